/* evoforge dashboard: the Research view of an `evoforge research --out` folder.
 *
 * Data: /api/runs/KEY/research (the idea archive) and /api/runs/KEY/research/IDEA (its stages,
 * fresh-seed measurement, report and reviews), read by evoforge.research.dashboard. Offered only
 * for the loop's own run (`available`). Ideas, reviews and refused write-ups are model text:
 * they go into text nodes only. A stage links to its own run's pages in this dashboard.
 */
"use strict";

function isResearchRun(app) {
  const info = app.store().info;
  return !!(info && info.meta && info.meta.kind === "research" && info.run && info.run.name === "research");
}

function researchLink(app, idea, label) {
  return h("a", { href: `#/${encodeURIComponent(app.runKey)}/research/${encodeURIComponent(idea)}`, class: "idea-link" }, label || idea);
}

function runLink(key, view, label, arg) {
  return h("a", { href: `#/${encodeURIComponent(key)}/${view}${arg ? "/" + encodeURIComponent(arg) : ""}`, class: "stage-link " + view }, label);
}

function meanSpread(m) {
  if (!m || m.mean === null || m.mean === undefined) return "—";
  return `${Plot.fmt(m.mean, 4)} ± ${Plot.fmt(m.std || 0, 3)} (${(m.scores || []).length} seeds)`;
}

function selfScores(r) { return `interest ${r.interestingness} · feasibility ${r.feasibility} · novelty ${r.novelty}`; }

function noveltyText(n) {
  if (!n) return "—";
  return n.source ? `similarity ${Plot.fmt(n.similarity, 2)} to ${n.source}` : "nothing similar in the archive";
}

function ideasPanel(app, d) {
  const rows = d.ideas.map((i) => [researchLink(app, i.id), i.title, i.source, pill(i.status), selfScores(i.record),
    noveltyText(i.novelty_check), i.verdict ? h("span", { class: "verdict v-" + i.verdict }, i.verdict) : "—",
    i.idea_mean === undefined ? "—" : `${Plot.fmt(i.idea_mean, 4)} vs ${Plot.fmt(i.baseline_mean, 4)}`,
    i.meta_overall === undefined ? "—" : String(i.meta_overall)]);
  return panel(`Ideas (${d.ideas.length}) · ${d.failures} unusable model replies · ${d.flags} flagged write-ups`,
    d.ideas.length ? table(["idea", "title", "source", "status", "self-scores", "novelty check", "verdict",
      "idea vs baseline mean", "meta-review"], rows, "grid-table research-ideas") : emptyState("No idea in the archive yet."));
}

function stagesPanel(d) {
  const rows = d.stages.map((s) => [s.stage, pill(s.status), s.why || s.stop_reason || "",
    s.attempts === undefined ? "—" : String(s.attempts),
    s.best_score === undefined || s.best_score === null ? "—" : s.best_score,
    s.run_key ? h("span", {}, runLink(s.run_key, "overview", s.run_name), " · ", runLink(s.run_key, "tree", "genealogy"),
      s.best_id ? [" · ", runLink(s.run_key, "attempt", "best attempt", s.best_id)] : null) : "(not run)"]);
  return panel("Experiment stages", d.stages.length ? table(["stage", "status", "why / stop", "attempts", "best score", "run"], rows,
    "grid-table research-stages") : emptyState("No stage has run for this idea yet."));
}

function measurementPanel(app, o) {
  if (!o) return panel("Fresh-seed measurement", emptyState("Not measured yet."));
  const seeds = (o.result.seeds || []).map((seed, k) => [String(seed),
    o.baseline.ids && o.baseline.ids[k] ? attemptLink(app, o.baseline.ids[k], Plot.fmt(o.baseline.scores[k], 4)) : "—",
    o.result.ids && o.result.ids[k] ? attemptLink(app, o.result.ids[k], Plot.fmt(o.result.scores[k], 4)) : "—"]);
  return panel("Fresh-seed measurement",
    h("dl", { class: "kv research-outcome" },
      h("dt", {}, "idea"), h("dd", { id: "research-idea-mean" }, meanSpread(o.result)),
      h("dt", {}, "baseline"), h("dd", { id: "research-baseline-mean" }, meanSpread(o.baseline)),
      h("dt", {}, "difference"), h("dd", {}, `${Plot.fmt(o.delta, 4)} ± ${Plot.fmt(o.delta_se, 3)} (${o.pairs} paired seeds)`),
      h("dt", {}, "verdict"), h("dd", { id: "research-verdict", class: "verdict v-" + o.verdict }, o.verdict)),
    table(["seed", "baseline", "idea"], seeds, "grid-table research-seeds"));
}

function reportPanel(d) {
  if (!d.report) return panel("Report", emptyState("No report written yet."));
  return panel("Report",
    d.report_page ? h("p", {}, h("a", { id: "research-report-link", href: d.report_page, target: "_blank", rel: "noopener noreferrer" },
      "Open report.html")) : h("p", { class: "empty-note" }, "(report.html is not in this out folder's reports/)"),
    fold("The report's Markdown (as text)", textBlock("research-report-md", d.report.markdown_text), false));
}

/** A review form as the model filled it: every field, lists as lists (so new form fields show too). */
function formFields(record, cls) {
  return h("dl", { class: "kv " + cls }, Object.entries(record).map(([k, v]) => [h("dt", {}, k.replace(/_/g, " ")),
    h("dd", {}, Array.isArray(v) ? h("ul", {}, v.map((x) => h("li", {}, String(x)))) : String(v))]));
}

function reviewsPanel(d) {
  const reviews = d.reviews.map((r) => h("div", { class: "review", dataset: { reviewer: r.reviewer, round: r.round } },
    h("h3", {}, `Reviewer ${r.reviewer}, round ${r.round} · overall ${r.record.overall}, confidence ${r.record.confidence}`),
    formFields(r.record, "review-form")));
  const meta = d.meta_review ? h("div", { class: "review meta-review", id: "research-meta-review" },
    h("h3", {}, `Meta-review of ${d.meta_review.reviewers} reviewers · overall ${d.meta_review.record.overall}`
      + ` (reviewers' mean ${Plot.fmt(d.meta_review.mean_overall, 3)}), confidence ${d.meta_review.record.confidence}`),
    formFields(d.meta_review.record, "review-form")) : null;
  return panel(`Reviews (${d.reviews.length})`, d.reviews.length || meta ? [meta, ...reviews] : emptyState("Not reviewed yet."));
}

function flagsPanel(d) {
  if (!d.flags.length) return null;
  return panel(`Flagged write-up text (${d.flags.length})`, d.flags.map((f) => h("div", { class: "flagged" },
    h("p", {}, h("span", { class: "pill st-error" }, f.action), ` ${f.where}: cites ${f.numbers.join(", ")}, which no stored evaluation produced`
      + (f.action === "refused" ? " — this text was kept out of the report" : "")),
    textBlock(null, f.text, "warn flagged-text"))));
}

function ideaPage(app, root, id) {
  withData(root, runPath(app, "research/" + encodeURIComponent(id)), (box, d) => {
    const r = d.idea.record;
    box.append(h("p", {}, researchLink(app, "", "← all ideas")),
      panel(`${d.idea.id}: ${r.title}`, h("dl", { class: "kv research-idea" },
        h("dt", {}, "status"), h("dd", {}, pill(d.status || d.idea.status)),
        h("dt", {}, "hypothesis"), h("dd", {}, r.hypothesis), h("dt", {}, "planned change"), h("dd", {}, r.planned_change),
        h("dt", {}, "expected effect"), h("dd", {}, r.expected_effect), h("dt", {}, "self-scores"), h("dd", {}, selfScores(r)),
        h("dt", {}, "novelty check"), h("dd", {}, noveltyText(d.idea.novelty_check)))),
      stagesPanel(d), measurementPanel(app, d.outcome), flagsPanel(d), reportPanel(d), reviewsPanel(d));
  });
}

Views.research = (root, app) => {
  if (!isResearchRun(app)) { root.append(emptyState("This is not a research run: open the run named research of an evoforge research --out folder.")); return; }
  if (app.route.arg) { ideaPage(app, root, app.route.arg); return; }
  withData(root, runPath(app, "research"), (box, d) => box.append(ideasPanel(app, d)));
};
Views.research.available = isResearchRun;
