/* evoforge dashboard: the Pareto front of a many-objective run (task.yaml `objectives:`).
 *
 * Everything comes from /api/runs/KEY/front, which the engine's own front code computes (which
 * programs are non-dominated, the hypervolume after each proposal): the page only draws it, so
 * the dashboard, the CLI summary and `evoforge report` cannot disagree about the front.
 * The view is offered only for runs with objectives (`available`).
 */
"use strict";

const FrontUI = { x: null, y: null };

function objectivesOf(app) {
  const info = app.store().info;
  return ((info && info.config) || {}).objectives || [];
}

function objectiveLabel(o) { return `${o.name} (${o.direction === "minimize" ? "minimize ↓" : "maximize ↑"})`; }

function frontTip(p, objectives) {
  return `#${p.index} · island ${p.island}${p.front ? " · on the front" : " · dominated"}\n`
    + objectives.map((o) => `${o.name} = ${Plot.fmt(p.values[o.name], 6)}`).join("\n");
}

Views.front = (root, app) => {
  withData(root, runPath(app, "front"), (box, f) => {
    if (!f.objectives.length) {
      box.append(emptyState("This run has a single objective: there is no front to show (list objectives: in task.yaml to optimise several)."));
      return;
    }
    const names = f.objectives.map((o) => o.name);
    const byName = new Map(f.objectives.map((o) => [o.name, o]));
    if (!names.includes(FrontUI.x)) FrontUI.x = names[0];
    if (!names.includes(FrontUI.y) || FrontUI.y === FrontUI.x) FrontUI.y = names.find((n) => n !== FrontUI.x) || names[0];
    const ox = byName.get(FrontUI.x), oy = byName.get(FrontUI.y);
    const onFront = f.points.filter((p) => p.front), dominated = f.points.filter((p) => !p.front);
    const controls = h("div", { class: "controls" },
      names.length > 2 ? select("x:", names, FrontUI.x, (v) => { FrontUI.x = v; app.render(true); }, "front-x") : null,
      names.length > 2 ? select("y:", names, FrontUI.y, (v) => { FrontUI.y = v; app.render(true); }, "front-y") : null,
      h("span", { class: "hint" }, `${onFront.length} non-dominated of ${f.points.length} programs (${f.mode} mode) · faded: dominated`
        + (names.length > 2 ? ` in all ${names.length} objectives, so a point may look dominated in this projection` : "")
        + " · click a point to open its program"));
    const point = (p, cls) => ({ x: p.values[FrontUI.x], y: p.values[FrontUI.y], id: p.id, tip: frontTip(p, f.objectives), cls });
    const p1 = panel(null, controls);
    Plot.scatter(p1, { id: "plot-front", width: viewWidth(), height: 360, title: "Programs by objective: the front in colour",
      xLabel: objectiveLabel(ox), yLabel: objectiveLabel(oy), onClick: (p) => app.go("attempt", p.id),
      empty: "no program with its objectives yet",
      series: [
        { name: "dominated", kind: "dots", color: "#6b7280", cls: "dominated", points: dominated.map((p) => point(p, "dominated")) },
        { name: "front", kind: "dots", color: "#dc2626", r: 5, cls: "on-front", points: onFront.map((p) => point(p, "front-pt")) },
      ] });
    box.append(p1);
    const p2 = panel(null);
    if (f.hypervolume === null) {
      p2.append(h("h2", {}, "Hypervolume over time"), emptyState("The hypervolume needs a reference point for every objective (objectives[].reference in task.yaml)."));
    } else {
      const last = f.points.length ? Plot.maxOf(f.points.map((p) => p.index)) : undefined;
      Plot.scatter(p2, { id: "plot-hypervolume", width: viewWidth(), height: 240, xInteger: true, legend: false,
        title: `Hypervolume of the front after each proposal (now ${Plot.fmt(f.hypervolume, 6)})`, xLabel: "proposal", yLabel: "hypervolume",
        series: [{ name: "hypervolume", kind: "step", color: "#2563eb", points: f.history.map((s) => ({ x: s.index, y: s.hypervolume })), extendTo: last }] });
    }
    box.append(p2);
    const sorted = onFront.slice().sort((a, b) => a.values[FrontUI.x] - b.values[FrontUI.x]);
    box.append(panel(`Programs on the front (${onFront.length})`, table(["#", ...f.objectives.map(objectiveLabel), "island"],
      sorted.map((p) => [attemptLink(app, p.id, "#" + p.index), ...names.map((n) => p.values[n]), String(p.island)]), "grid-table front-table")));
  });
};
Views.front.available = (app) => objectivesOf(app).length > 0;
