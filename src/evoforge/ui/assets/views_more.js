/* evoforge dashboard views, part 2: the program page, models and bandit, failures, safety, insights.
 * These read server endpoints beyond the polled rows; `withData` paints the last answer at once
 * and repaints when a fresh one differs, so live refreshes do not flicker.
 */
"use strict";

const DataCache = {};

function withData(root, path, draw) {
  const box = h("div", { class: "async" });
  root.append(box);
  const paint = (d) => {
    try { const out = h("div", {}); draw(out, d); box.replaceChildren(out); } catch (e) { box.replaceChildren(h("div", { class: "error" }, e.message)); console.error(e); }
  };
  if (DataCache[path]) paint(DataCache[path]);
  else box.append(h("div", { class: "loading" }, "Loading…"));
  api(path).then((d) => {
    const same = DataCache[path] && JSON.stringify(d) === JSON.stringify(DataCache[path]);
    DataCache[path] = d;
    if (!same) paint(d);
  }).catch((err) => box.replaceChildren(h("div", { class: "error" }, err.message)));
}

function runPath(app, rest) { return `/api/runs/${encodeURIComponent(app.runKey)}/${rest}`; }

function textBlock(id, text, cls) {
  if (text === null || text === undefined || text === "") return h("div", { class: "empty-note", id }, "(empty)");
  return h("pre", { class: "block " + (cls || ""), id }, text);
}

function codeBlock(id, code) {
  if (!code) return h("div", { class: "empty-note", id }, "(no code: the attempt failed before producing a program)");
  return h("pre", { class: "block code", id }, code.replace(/\n$/, "").split("\n").map((line) => h("span", { class: "ln" }, line + "\n")));
}

function diffBlock(id, diff) {
  if (!diff) return h("div", { class: "empty-note", id }, "(no diff: no parent, or identical to it)");
  return h("pre", { class: "block diff", id }, diff.replace(/\n$/, "").split("\n").map((line) => {
    const cls = line.startsWith("@@") ? "hunk" : line.startsWith("+++") || line.startsWith("---") ? "file"
      : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "ctx";
    return h("span", { class: "dl " + cls }, line || " ");
  }));
}

function fold(title, body, open) {
  return h("details", { class: "fold", open: !!open }, h("summary", {}, title), body);
}

Views.attempt = (root, app) => {
  const id = app.route.arg;
  root.append(h("div", { class: "loading" }, "Loading attempt…"));
  api(runPath(app, "attempts/" + encodeURIComponent(id))).then((a) => {
    const rows = app.store().rows;
    const pos = rows.findIndex((r) => r.id === a.id);
    const prev = pos > 0 ? rows[pos - 1] : null, next = pos >= 0 && pos < rows.length - 1 ? rows[pos + 1] : null;
    const delta = a.score !== null && a.parent_score !== null ? a.score - a.parent_score : null;
    const info = [
      ["status", pill(a.status)], ["score", a.score === null ? "—" : Plot.fmt(a.score, 8)],
      ["private score", a.private_score === null ? "—" : Plot.fmt(a.private_score, 8)],
      ["parent", a.parent_id ? h("span", {}, attemptLink(app, a.parent_id, a.parent_id.slice(0, 10)),
        a.parent_score !== null ? ` (score ${Plot.fmt(a.parent_score, 6)}${delta !== null ? ", Δ " + (delta >= 0 ? "+" : "") + Plot.fmt(delta, 4) : ""})` : "") : "— (initial program)"],
      ["inspirations", a.inspiration_ids.length ? a.inspiration_ids.map((i) => attemptLink(app, i, i.slice(0, 10) + " ")) : "—"],
      ["children", a.children.length ? a.children.map((c) => attemptLink(app, c.id, `#${c.index} `)) : "—"],
      ["mutation", a.mutation], ["model", a.model || "operator (no model)"], ["island / generation", `${a.island} / ${a.generation}`],
      ["tokens in / out", `${a.input_tokens} / ${a.output_tokens}`], ["cost", "$" + (a.cost_usd || 0).toFixed(5)],
      ["evaluation", `${Plot.fmt(a.eval_seconds, 3)} s`], ["created", new Date(a.created_at * 1000).toLocaleString()],
      ["compute", h("span", { id: "attempt-compute" }, computeText(a.compute))],
    ];
    if (a.compute_inflation) info.push(["compute inflation", h("span", { id: "attempt-inflation", class: "warn" }, a.compute_inflation.note || "")]);
    const metrics = Object.entries(a.metrics || {}).map(([k, v]) => [k, "public", typeof v === "number" ? v : JSON.stringify(v)]);
    metrics.unshift(["score", "public", a.score === null ? "—" : a.score]);
    metrics.push(["private score", "private (held out)", a.private_score === null ? "—" : a.private_score]);
    const page = h("div", { class: "attempt-page", "data-id": a.id },
      h("div", { class: "attempt-head" },
        h("h1", { id: "attempt-title" }, `Attempt #${a.index} `, h("code", {}, a.id)),
        h("div", { class: "pager" },
          prev ? h("a", { href: `#/${encodeURIComponent(app.runKey)}/attempt/${prev.id}`, id: "prev-attempt" }, `← #${prev.index}`) : null,
          h("a", { href: `#/${encodeURIComponent(app.runKey)}/tree` }, "genealogy"),
          next ? h("a", { href: `#/${encodeURIComponent(app.runKey)}/attempt/${next.id}`, id: "next-attempt" }, `#${next.index} →`) : null)),
      h("dl", { class: "info" }, info.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      a.reason ? panel("Why it failed", textBlock("attempt-reason", a.reason, "warn")) : null,
      programPanels(a),
      panel("Evaluator feedback", textBlock("attempt-feedback", a.feedback)),
      panel("Metrics", table(["metric", "visibility", "value"], metrics, "grid-table metrics")),
      panel("Model", fold("Prompt", textBlock("attempt-prompt", a.prompt), false), fold("Model reply", textBlock("attempt-response", a.response), true),
        a.calls.length ? table(["model", "purpose", "latency (s)", "cost (USD)", "error"], a.calls.map((c) => [c.model, c.purpose, Plot.fmt(c.latency_s, 3), "$" + (c.cost_usd || 0).toFixed(6), c.error || ""])) : null),
      panel("Candidate output", fold("stdout", textBlock("attempt-stdout", a.stdout), !!a.stdout), fold("stderr", textBlock("attempt-stderr", a.stderr), !!a.stderr)));
    root.replaceChildren(page);
    window.scrollTo(0, 0);
  }).catch((err) => root.replaceChildren(h("div", { class: "error" }, "Cannot load this attempt: " + err.message)));
};
Views.attempt.static = true;

/** "0.41 s CPU, 0.52 s wall, 38 MB peak memory, 1 call": the evaluation's cost, measured by the sandbox. */
function computeText(c) {
  if (!c) return "— (not measured)";
  let text = `${Plot.fmt(c.cpu_s, 3)} s CPU, ${Plot.fmt(c.wall_s, 3)} s wall`;
  if (c.peak_memory_mb !== null && c.peak_memory_mb !== undefined) text += `, ${Math.round(c.peak_memory_mb)} MB peak memory`;
  return text + `, ${c.calls} call${c.calls === 1 ? "" : "s"}`;
}

Views.models = (root, app) => {
  withData(root, runPath(app, "usage"), (box, u) => {
    const models = u.models || [];
    if (!models.length) box.append(panel("Models", emptyState("No model call in this run (zero-cost operators only).")));
    else {
      box.append(panel("Models", table(["model", "calls", "errors", "tokens in", "tokens out", "reasoning", "cost (USD)", "mean latency (s)", "programs", "failed"],
        models.map((m) => [m.model, m.calls, m.errors, m.input_tokens, m.output_tokens, m.reasoning_tokens, m.cost_usd, m.mean_latency_s, m.programs, m.failed_attempts]))));
      const p = panel(null);
      const useCost = models.some((m) => m.cost_usd > 0);
      Plot.bars(p, { id: "plot-model-usage", width: viewWidth(), title: useCost ? "Cost per model (USD)" : "Calls per model",
        labels: models.map((m) => m.model), values: models.map((m) => (useCost ? m.cost_usd : m.calls)),
        format: useCost ? (v) => "$" + Plot.fmt(v, 3) : (v) => String(v) });
      box.append(p);
    }
    const kinds = Object.entries(u.kinds || {});
    if (!kinds.length) { box.append(panel("Proposal kinds (bandit)", emptyState("No bandit statistics stored yet."))); return; }
    const mean = (s) => (s.trials ? s.reward / s.trials : 0);
    box.append(panel("Proposal kinds (bandit)", table(["kind", "trials", "valid", "improvements", "valid rate", "mean reward"],
      kinds.map(([k, s]) => [k, s.trials || 0, s.valid || 0, s.improvements || 0, s.trials ? `${Math.round((100 * s.valid) / s.trials)}%` : "—", mean(s)]))));
    const p = panel(null, h("p", { class: "hint" }, "Reward per proposal: 1 for a child better than its parent, a little for a valid child, 0 for a failure."));
    Plot.bars(p, { id: "plot-kinds", width: viewWidth(), title: "Mean reward per proposal kind", labels: kinds.map(([k]) => k),
      values: kinds.map(([, s]) => mean(s)), color: "#16a34a" });
    Plot.bars(p, { id: "plot-kind-trials", width: viewWidth(), title: "Trials per proposal kind", labels: kinds.map(([k]) => k),
      values: kinds.map(([, s]) => s.trials || 0), color: "#2563eb", format: (v) => String(v) });
    box.append(p);
  });
};

Views.failures = (root, app) => {
  const rows = app.store().rows.filter((r) => r.status !== "pending");
  const failed = failedRows(rows);
  if (rows.length && failed.length) {
    const win = Math.max(5, Math.min(50, Math.round(rows.length / 10)));
    const pts = rows.map((r, i) => {
      const w = rows.slice(Math.max(0, i - win + 1), i + 1);
      return { x: r.index, y: (100 * w.filter((x) => x.status !== "ok").length) / w.length };
    });
    const p = panel(null);
    Plot.scatter(p, { id: "plot-failure-rate", width: viewWidth(), height: 220, title: `Failure rate over the last ${win} attempts (%)`,
      xLabel: "proposal", yLabel: "% failed", series: [{ name: "failure rate", kind: "line", color: "#dc2626", points: pts }] });
    root.append(p);
  }
  withData(root, runPath(app, "failures"), (box, f) => {
    if (!f.failed) { box.append(emptyState(f.total ? `No failed attempt out of ${f.total}.` : "No attempt yet.")); return; }
    const statuses = Object.entries(f.by_status);
    const p = panel(`Failures: ${f.failed} of ${f.total} attempts (${Math.round((100 * f.failed) / Math.max(1, f.total))}%)`);
    Plot.bars(p, { id: "plot-failures", width: viewWidth(), title: "Failed attempts by status", labels: statuses.map(([s]) => s),
      values: statuses.map(([, n]) => n), color: "#dc2626", format: (v) => String(v) });
    box.append(p);
    box.append(panel("By reason (numbers and ids folded together)", table(["status", "reason", "count", "mutations", "example"],
      f.reasons.map((g) => [pill(g.status), g.example_reason || g.reason, g.count,
        Object.entries(g.mutations).map(([m, n]) => `${m} ×${n}`).join(", "), attemptLink(app, g.example, g.example.slice(0, 10))]), "grid-table reasons")));
  });
};

function payloadText(p) {
  if (p && typeof p === "object") {
    for (const k of ["text", "message", "insight", "reason"]) if (typeof p[k] === "string") return p[k];
  }
  return JSON.stringify(p);
}

function eventRows(app, events) {
  return events.map((e) => {
    const p = e.payload || {};
    const id = p.attempt_id || p.id;
    return h("li", { class: "event ev-" + e.kind },
      h("span", { class: "when" }, new Date(e.created_at * 1000).toLocaleTimeString()), " ", h("span", { class: "pill" }, e.kind), " ",
      h("span", { class: "what" }, payloadText(p)), " ", typeof id === "string" ? attemptLink(app, id, "open " + id.slice(0, 10)) : null);
  });
}

Views.safety = (root, app) => {
  withData(root, runPath(app, "events"), (box, d) => {
    const alerts = d.events.filter((e) => e.kind === "alert"), quarantine = d.events.filter((e) => e.kind === "quarantine");
    const held = app.store().rows.filter((r) => r.status === "quarantined");
    box.append(panel(`Safety alerts (${alerts.length})`, alerts.length ? h("ul", { class: "events", id: "alerts" }, eventRows(app, alerts))
      : h("div", { class: "empty-state ok", id: "alerts-empty" }, "✓ No safety alert in this run.")));
    box.append(panel(`Quarantine (${quarantine.length + held.length})`,
      quarantine.length ? h("ul", { class: "events", id: "quarantine" }, eventRows(app, quarantine)) : null,
      held.length ? table(["#", "score", "mutation", "reason"], held.map((r) => [attemptLink(app, r.id, "#" + r.index), r.score === null ? "—" : r.score, r.mutation, r.reason || ""])) : null,
      !quarantine.length && !held.length ? h("div", { class: "empty-state ok", id: "quarantine-empty" }, "✓ Nothing was quarantined: no program is held for audit.") : null));
  });
};

Views.insights = (root, app) => {
  withData(root, runPath(app, "events?kind=insight"), (box, d) => {
    if (!d.events.length) {
      box.append(panel("Insights", h("div", { class: "empty-state", id: "insights-empty" },
        "No insight yet. The meta-scratchpad records what the search learns here, as the run goes.")));
      return;
    }
    const t0 = d.events[0].created_at;
    box.append(panel(`Insights (${d.events.length})`, h("ol", { class: "timeline", id: "insights" }, d.events.map((e) => {
      const p = e.payload || {};
      return h("li", { class: "insight" }, h("span", { class: "when" }, `+${Math.round(e.created_at - t0)}s` + (p.index !== undefined ? ` · after proposal #${p.index}` : "")),
        h("div", { class: "what" }, payloadText(p)));
    }))));
  });
};
