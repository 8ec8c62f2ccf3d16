/* evoforge dashboard views, part 1: progress, genealogy, islands, comparison of runs.
 * Each view is a function (root, app) that fills `root` from app.store() rows (light attempts).
 */
"use strict";

const Views = {};
const UI = { showPrivate: false, treeFailed: true, mapX: null, mapY: null, compare: null, compareX: "index" };

function better(a, b, max) { return max ? a > b : a < b; }

function bestSoFar(points, max) {
  const out = [];
  let best = null;
  for (const p of points.slice().sort((a, b) => a.x - b.x)) {
    if (best === null || better(p.y, best, max)) best = p.y;
    out.push({ x: p.x, y: best });
  }
  return out;
}

function okRows(rows) { return rows.filter((r) => r.status === "ok" && r.score !== null && r.score !== undefined); }
function failedRows(rows) { return rows.filter((r) => r.status !== "ok" && r.status !== "pending"); }

/** Score -> colour, brightest for the best score in `rows`, whatever the direction. */
function scoreColorer(rows, max) {
  const scores = okRows(rows).map((r) => r.score);
  const lo = Plot.minOf(scores), hi = Plot.maxOf(scores);
  return (v) => {
    if (!(hi > lo)) return Plot.viridis(0.8);
    const t = (v - lo) / (hi - lo);
    return Plot.viridis(max ? t : 1 - t);
  };
}

function tip(r) {
  const score = r.score === null || r.score === undefined ? r.status : Plot.fmt(r.score, 6);
  return `#${r.index} ${r.mutation}${r.model ? " (" + r.model + ")" : ""} · island ${r.island} · ${score}${r.reason ? "\n" + r.reason : ""}`;
}

function pill(status) { return h("span", { class: "pill st-" + status }, status); }

function attemptLink(app, id, label) {
  return h("a", { href: `#/${encodeURIComponent(app.runKey)}/attempt/${encodeURIComponent(id)}`, class: "attempt-link" }, label || id);
}

function panel(title, ...children) {
  return h("section", { class: "panel" }, title ? h("h2", {}, title) : null, ...children);
}

function table(headers, rows, cls) {
  return h("table", { class: cls || "grid-table" },
    h("thead", {}, h("tr", {}, headers.map((x) => h("th", {}, x)))),
    h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c) => h("td", { class: typeof c === "number" ? "n" : null },
      typeof c === "number" ? Plot.fmt(c, 6) : c))))));
}

function emptyState(text) { return h("div", { class: "empty-state" }, text); }

function viewWidth() {
  const main = document.getElementById("view");
  return Math.max(360, (main ? main.clientWidth : 900) - 66);
}

function checkbox(label, checked, onchange, id) {
  return h("label", { class: "control" }, h("input", { type: "checkbox", id, checked, onchange: (e) => onchange(e.target.checked) }), " " + label);
}

function select(label, options, value, onchange, id) {
  return h("label", { class: "control" }, label + " ",
    h("select", { id, onchange: (e) => onchange(e.target.value) },
      options.map((o) => {
        const [v, text] = Array.isArray(o) ? o : [o, o];
        return h("option", { value: v, selected: v === value }, text);
      })));
}

/** Scores against a chosen x (proposal index or cumulative cost). */
function scorePlot(container, app, xKey, opts) {
  const rows = app.store().rows, max = app.maximize();
  const ok = okRows(rows);
  const islands = Array.from(new Set(ok.map((r) => r.island))).sort((a, b) => a - b);
  const series = islands.map((i) => ({
    name: `island ${i}`, color: Plot.ISLAND_COLORS[i % Plot.ISLAND_COLORS.length], kind: "dots",
    points: ok.filter((r) => r.island === i).map((r) => ({ x: r[xKey], y: r.score, id: r.id, tip: tip(r) })),
  }));
  if (UI.showPrivate) {
    series.push({ name: "private score", color: "#6b7280", kind: "hollow",
      points: ok.filter((r) => r.private_score !== null).map((r) => ({ x: r[xKey], y: r.private_score, id: r.id, tip: "private " + tip(r) })) });
  }
  const best = bestSoFar(ok.map((r) => ({ x: r[xKey], y: r.score })), max);
  const last = rows.length ? Plot.maxOf(rows.map((r) => r[xKey])) : undefined;
  series.push({ name: "best so far", color: "#111827", kind: "step", points: best, extendTo: last });
  series.push({ name: "failed", color: "#9ca3af", kind: "rug",
    points: failedRows(rows).map((r) => ({ x: r[xKey], y: 0, id: r.id, tip: tip(r) })) });
  return Plot.scatter(container, Object.assign({ width: viewWidth(), height: 320, yLabel: "score",
    onClick: (p) => app.go("attempt", p.id) }, opts, { series }));
}

Views.overview = (root, app) => {
  const rows = app.store().rows;
  if (!rows.length) { root.append(emptyState("Waiting for the first attempt of this run…")); return; }
  const usage = (app.store().info || {}).usage || {};
  root.append(h("div", { class: "controls" },
    checkbox("show private scores (held-out, never shown to the model)", UI.showPrivate, (v) => { UI.showPrivate = v; app.render(true); }, "toggle-private")));
  const dir = app.maximize() ? "higher is better" : "lower is better";
  const p1 = panel(null);
  scorePlot(p1, app, "index", { id: "plot-progress", title: `Scores against proposals (${dir}; click a dot to open it)`, xLabel: "proposal", xInteger: true });
  root.append(p1);
  const p2 = panel(null);
  if ((usage.cost_usd || 0) > 0) {
    scorePlot(p2, app, "cum_cost", { id: "plot-cost", title: "Scores against cumulative model cost", xLabel: "cost (USD)",
      xFormat: (v) => "$" + Plot.fmt(v, 3) });
  } else {
    p2.append(h("h2", {}, "Scores against cost"), emptyState("No model spend recorded (zero-cost operators, a free local model, or no prices set)."));
  }
  root.append(p2);
  const recent = rows.slice(-12).reverse();
  root.append(panel("Latest attempts", table(["#", "status", "score", "CPU (s)", "mutation", "model", "island", "parent", "reason"],
    recent.map((r) => [attemptLink(app, r.id, "#" + r.index), pill(r.status), r.score === null ? "—" : r.score,
      r.cpu_s === null || r.cpu_s === undefined ? "—" : Plot.fmt(r.cpu_s, 3), r.mutation,
      r.model || "operator", String(r.island), r.parent_id ? attemptLink(app, r.parent_id, r.parent_id.slice(0, 8)) : "—", r.reason || ""]))));
};

/** Leaves in depth-first order, parents centred over their children (same as the report). */
function treeLayout(rows) {
  const ids = new Set(rows.map((r) => r.id));
  const kids = new Map();
  for (const r of rows) {
    const p = r.parent_id && ids.has(r.parent_id) ? r.parent_id : null;
    if (!kids.has(p)) kids.set(p, []);
    kids.get(p).push(r);
  }
  const pos = new Map();
  let leaf = 0, depthMax = 0;
  const stack = (kids.get(null) || []).slice().reverse().map((r) => [r, 0, false]);
  while (stack.length) {
    const [node, depth, expanded] = stack.pop();
    const ch = kids.get(node.id) || [];
    depthMax = Math.max(depthMax, depth);
    if (!ch.length) pos.set(node.id, { x: leaf++, d: depth });
    else if (expanded) pos.set(node.id, { x: (pos.get(ch[0].id).x + pos.get(ch[ch.length - 1].id).x) / 2, d: depth });
    else { stack.push([node, depth, true]); for (let i = ch.length - 1; i >= 0; i--) stack.push([ch[i], depth + 1, false]); }
  }
  return { pos, leaves: leaf, depth: depthMax };
}

function lineage(rows, id) {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const out = new Set();
  while (id && byId.has(id) && !out.has(id)) { out.add(id); id = byId.get(id).parent_id; }
  return out;
}

Views.tree = (root, app) => {
  const all = app.store().rows, max = app.maximize();
  if (!all.length) { root.append(emptyState("Waiting for the first attempt of this run…")); return; }
  const rows = UI.treeFailed ? all : all.filter((r) => r.status === "ok" || r.status === "pending");
  const best = (app.store().info.run.best || {}).id;
  root.append(h("div", { class: "controls" },
    checkbox("show failed attempts", UI.treeFailed, (v) => { UI.treeFailed = v; app.render(true); }, "toggle-failed"),
    h("span", { class: "hint" }, "Colour: score (bright = better) · grey: failed · red ring: best · bold: its lineage · click a node to open its code")));
  const { pos, leaves, depth } = treeLayout(rows);
  const gap = leaves > 400 ? 7 : 16, W = Math.max(viewWidth(), leaves * gap + 60), H = (depth + 1) * 48 + 30;
  const svg = Plot.el("svg", { class: "plot tree", id: "plot-tree", width: W, height: H, viewBox: `0 0 ${W} ${H}` });
  const sx = (x) => 30 + (leaves > 1 ? (x / (leaves - 1)) * (W - 60) : (W - 60) / 2);
  const sy = (d) => 20 + d * 48;
  const path = lineage(rows, best);
  const color = scoreColorer(rows, max);
  const edges = Plot.el("g", { class: "edges" }, svg);
  const onPath = (r) => path.has(r.id) && path.has(r.parent_id);
  for (const r of rows.filter((x) => !onPath(x)).concat(rows.filter(onPath))) {  // lineage drawn last, on top
    if (!r.parent_id || !pos.has(r.parent_id) || !pos.has(r.id)) continue;
    const a = pos.get(r.parent_id), b = pos.get(r.id);
    const on = onPath(r);
    const ym = (sy(a.d) + sy(b.d)) / 2;
    Plot.el("path", { d: `M${sx(a.x)},${sy(a.d)}V${ym}H${sx(b.x)}V${sy(b.d)}`, class: on ? "edge lineage" : "edge" }, edges);
  }
  const nodes = Plot.el("g", { class: "nodes" }, svg);
  for (const r of rows) {
    const p = pos.get(r.id);
    if (!p) continue;
    const ok = r.status === "ok" && r.score !== null;
    const c = Plot.el("circle", { cx: sx(p.x), cy: sy(p.d), r: ok ? 6 : 4, "data-id": r.id, "data-index": r.index,
      class: "node clickable" + (ok ? " ok" : " failed") + (r.id === best ? " best" : ""),
      fill: ok ? color(r.score) : r.status === "pending" ? "#fde68a" : "#d1d5db" }, nodes);
    Plot.title(c, tip(r));
    c.addEventListener("click", () => app.go("attempt", r.id));
    if (rows.length <= 80) Plot.text(nodes, sx(p.x) + 8, sy(p.d) - 6, "#" + r.index, { class: "node-label" });
  }
  const box = h("div", { class: "scroll-keep tree-box" }, svg);
  root.append(panel(`Genealogy: ${rows.length} attempts, ${depth + 1} levels`, box));
  if (app.fullRender && best && pos.has(best)) {  // a big tree opens centred on the best program
    const p = pos.get(best);
    requestAnimationFrame(() => {
      box.scrollLeft = Math.max(0, sx(p.x) - box.clientWidth / 2);
      box.scrollTop = Math.max(0, sy(p.d) - box.clientHeight / 2);
    });
  }
};

Views.islands = (root, app) => {
  const rows = app.store().rows, max = app.maximize(), ok = okRows(rows);
  if (!ok.length) { root.append(emptyState("No valid program yet: islands and the grid appear with the first score.")); return; }
  const islands = Array.from(new Set(rows.map((r) => r.island))).sort((a, b) => a - b);
  const stats = islands.map((i) => {
    const mine = rows.filter((r) => r.island === i), good = okRows(mine);
    const best = good.reduce((b, r) => (b === null || better(r.score, b.score, max) ? r : b), null);
    return [String(i), mine.length, good.length, best ? best.score : "—", best ? attemptLink(app, best.id, "#" + best.index) : "—",
      good.length ? good.reduce((s, r) => s + r.score, 0) / good.length : "—"];
  });
  root.append(panel("Islands", table(["island", "attempts", "programs", "best", "best program", "mean score"], stats)));
  const p = panel(null);
  Plot.scatter(p, { id: "plot-islands", width: viewWidth(), height: 260, title: "Best score per island", xLabel: "proposal", yLabel: "best score", xInteger: true,
    series: islands.map((i) => ({ name: `island ${i}`, kind: "step", color: Plot.ISLAND_COLORS[i % 10],
      points: bestSoFar(okRows(rows.filter((r) => r.island === i)).map((r) => ({ x: r.index, y: r.score })), max),
      extendTo: rows.length ? rows[rows.length - 1].index : undefined })) });
  root.append(p);
  const buckets = 10, [lo, hi] = [Plot.minOf(ok.map((r) => r.score)), Plot.maxOf(ok.map((r) => r.score))];
  const bucket = (v) => (hi > lo ? Math.min(buckets - 1, Math.floor(((v - lo) / (hi - lo)) * buckets)) : 0);
  const counts = islands.map((i) => { const c = Array(buckets).fill(null); for (const r of ok.filter((r) => r.island === i)) c[bucket(r.score)] = (c[bucket(r.score)] || 0) + 1; return c; });
  const maxCount = Math.max(1, ...counts.flat().filter((v) => v !== null));
  const hp = panel(null);
  Plot.heatmap(hp, { id: "plot-island-heatmap", width: viewWidth(), title: "Programs per island and score range", xLabel: "score range", yLabel: "island",
    xLabels: Array.from({ length: buckets }, (_, b) => Plot.fmt(lo + ((hi - lo) * (b + 0.5)) / buckets, 3)), yLabels: islands.map((i) => `island ${i}`),
    values: counts, color: (v) => Plot.viridis(0.15 + 0.85 * (v / maxCount)), showValues: true, format: (v) => String(v) });
  root.append(hp);
  root.append(mapElites(app, ok, max));
};

const BUILTIN_DESCRIPTORS = ["code_length", "edit_size"];

/** MAP-Elites view: the best score in each cell of two descriptors. Defaults to the run's own grid
 * (search.map_elites axes, binned exactly as the engine bins them); any two metrics can be chosen. */
function mapElites(app, ok, max) {
  const configured = ((((app.store().info || {}).config || {}).search || {}).map_elites || []);
  const axisCfg = new Map(configured.map((a) => [a.name, a]));
  const keys = new Set();
  for (const r of ok) for (const [k, v] of Object.entries(r.metrics || {})) if (typeof v === "number") keys.add(k);
  const metricKeys = Array.from(keys).sort((a, b) => BUILTIN_DESCRIPTORS.includes(a) - BUILTIN_DESCRIPTORS.includes(b) || a.localeCompare(b));
  const choices = metricKeys.concat(["island", "generation", "index"]);
  const value = (r, k) => (k === "island" || k === "generation" || k === "index" ? r[k] : (r.metrics || {})[k]);
  const fallbackY = metricKeys.filter((k) => k !== UI.mapX && !BUILTIN_DESCRIPTORS.includes(k))[0] || "island";
  if (!UI.mapX || !choices.includes(UI.mapX)) UI.mapX = configured.length ? configured[0].name : choices[0];
  if (!UI.mapY || !choices.includes(UI.mapY)) UI.mapY = configured.length > 1 ? configured[1].name : fallbackY;
  const title = configured.length ? `MAP-Elites grid (${configured.map((a) => a.name).join(" × ")} configured): best score per cell`
    : "MAP-Elites view: best score per cell of two descriptors";
  const p = panel(title,
    h("div", { class: "controls" },
      select("x:", choices, UI.mapX, (v) => { UI.mapX = v; app.render(true); }, "map-x"),
      select("y:", choices, UI.mapY, (v) => { UI.mapY = v; app.render(true); }, "map-y"),
      h("span", { class: "hint" }, "Bright = better · click a cell to open its elite")));
  const pts = ok.filter((r) => typeof value(r, UI.mapX) === "number" && typeof value(r, UI.mapY) === "number");
  if (!pts.length) { p.append(emptyState("No program has both descriptors.")); return p; }
  const axis = (k) => {
    const cfg = axisCfg.get(k);
    if (cfg && cfg.max > cfg.min) {  // the engine's own bins: clamp into [min, max)
      const n = Math.max(1, cfg.bins), w = (cfg.max - cfg.min) / n;
      return { n, idx: (v) => Math.min(n - 1, Math.max(0, Math.floor((v - cfg.min) / w))),
        labels: Array.from({ length: n }, (_, b) => Plot.fmt(cfg.min + w * (b + 0.5), 3)) };
    }
    const vs = pts.map((r) => value(r, k)), lo = Plot.minOf(vs), hi = Plot.maxOf(vs);
    const n = Math.max(1, Math.min(10, new Set(vs).size));
    return { n, idx: (v) => (hi > lo ? Math.min(n - 1, Math.floor(((v - lo) / (hi - lo)) * n)) : 0),
      labels: Array.from({ length: n }, (_, b) => Plot.fmt(hi > lo ? lo + ((hi - lo) * (b + 0.5)) / n : lo, 3)) };
  };
  const ax = axis(UI.mapX), ay = axis(UI.mapY);
  const elite = Array.from({ length: ay.n }, () => Array(ax.n).fill(null));
  for (const r of pts) {
    const x = ax.idx(value(r, UI.mapX)), y = ay.idx(value(r, UI.mapY));
    if (!elite[y][x] || better(r.score, elite[y][x].score, max)) elite[y][x] = r;
  }
  const color = scoreColorer(ok, max);
  Plot.heatmap(p, { id: "plot-map-elites", width: viewWidth(), xLabel: UI.mapX, yLabel: UI.mapY, xLabels: ax.labels, yLabels: ay.labels,
    values: elite.map((row) => row.map((r) => (r ? r.score : null))), color, showValues: true,
    onClick: (x, y) => app.go("attempt", elite[y][x].id) });
  const filled = elite.flat().filter(Boolean).length;
  p.append(h("p", { class: "hint" }, `${filled} of ${ax.n * ay.n} cells filled (coverage ${Math.round((100 * filled) / (ax.n * ay.n))}%).`));
  return p;
}

Views.compareKeys = (app) => {
  if (!UI.compare) UI.compare = new Set(app.runs.slice(-8).map((r) => r.key));
  return app.runs.map((r) => r.key).filter((k) => UI.compare.has(k));
};

Views.compare = (root, app) => {
  const keys = Views.compareKeys(app);
  root.append(panel("Runs to compare", h("div", { class: "run-list" }, app.runs.map((r) =>
    checkbox(`${r.name} (${r.task}, ${r.direction}, ${r.attempts} attempts)`, UI.compare.has(r.key), (v) => {
      if (v) UI.compare.add(r.key); else UI.compare.delete(r.key); app.render(true);
    }, "cmp-" + r.key))),
  app.runs.length < 2 ? h("p", { class: "hint" }, "Only one run here: give several RUN arguments (or a storage holding several runs) to evoforge ui to compare them.") : null));
  const missing = keys.filter((k) => !app.store(k).loaded);
  if (missing.length) Promise.all(missing.map((k) => app.refresh(k))).then(() => app.render(false));
  const dirs = new Set(keys.map((k) => (app.run(k) || {}).direction));
  root.append(h("div", { class: "controls" },
    select("x axis:", [["index", "proposal"], ["cum_cost", "cost (USD)"], ["seconds", "seconds since start"]], UI.compareX, (v) => { UI.compareX = v; app.render(true); }, "compare-x"),
    dirs.size > 1 ? h("span", { class: "error" }, "These runs optimise in different directions.") : null));
  const series = keys.map((k, i) => {
    const s = app.store(k), run = app.run(k) || { name: k }, max = app.maximize(k);
    const t0 = s.rows.length ? s.rows[0].created_at : 0;
    const x = (r) => (UI.compareX === "seconds" ? r.created_at - t0 : r[UI.compareX]);
    return { name: run.name, kind: "step", color: Plot.ISLAND_COLORS[i % 10],
      points: bestSoFar(okRows(s.rows).map((r) => ({ x: x(r), y: r.score })), max),
      extendTo: s.rows.length ? Plot.maxOf(s.rows.map(x)) : undefined };
  });
  const p = panel(null);
  Plot.scatter(p, { id: "plot-compare", width: viewWidth(), height: 340, title: "Best score so far, per run",
    xLabel: { index: "proposal", cum_cost: "cost (USD)", seconds: "seconds since start" }[UI.compareX], yLabel: "best score", series });
  root.append(p);
  root.append(panel("Summary", table(["run", "task", "direction", "attempts", "best", "cost"], keys.map((k) => {
    const run = app.run(k) || {}, info = app.store(k).info || {};
    return [h("a", { href: `#/${encodeURIComponent(k)}/overview` }, run.name || k), run.task || "", run.direction || "", run.attempts || 0,
      run.best ? run.best.score : "—", "$" + ((info.usage || {}).cost_usd || 0).toFixed(4)];
  }))));
};
