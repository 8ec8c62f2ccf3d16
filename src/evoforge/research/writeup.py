"""The write-up of one idea: a self-contained report whose numbers all come from storage.

Tables are formatted by trusted code from `Evidence` (stored evaluations, each cited by its
attempt ids). The model writes one thing, the discussion, from the evidence list it is shown;
the discussion is printed only when every number in it is a stored value (`evidence.unverified`),
else it is refused and the refusal is stored (event ``research_flag``) and shown in the report.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..mutate.edits import unified_diff
from .asking import Asker
from .evidence import Evidence, mark, unverified
from .experiment import Experiment
from .measure import Measured
from .pdf import render_pdf
from .plots import bar_chart
from .render import Block, to_html, to_markdown
from .store import FLAG, REPORT, ResearchStore
from .topic import Topic

MARKER = "RESEARCH DISCUSSION"


@dataclass
class Study:
    """Everything measured for one idea."""

    idea: dict[str, Any]
    experiment: Experiment
    baseline: Measured
    result: Measured
    comparison: dict[str, Any]
    ablation: list[dict[str, Any]] = field(default_factory=list)
    discussion: str = ""
    flags: list[dict[str, Any]] = field(default_factory=list)
    reviews: list[dict[str, Any]] = field(default_factory=list)
    meta_review: dict[str, Any] | None = None
    report: dict[str, Any] | None = None        # the last stored report record (paths, PDF or why not)


def build_evidence(study: Study) -> Evidence:
    ev = Evidence()
    for m in (study.baseline, study.result):
        ok_ids = [i for i, s in zip(m.ids, m.scores) if s is not None]
        ev.add(f"{m.role}.mean", f"{m.role} mean over {len(m.ok)} fresh seeds", m.mean, ok_ids)
        ev.add(f"{m.role}.std", f"{m.role} standard deviation", m.std, ok_ids)
        for seed, score, aid in zip(m.seeds, m.scores, m.ids):
            ev.add(f"{m.role}.seed{seed}", f"{m.role} on seed {seed}", score, [aid])
    both = study.baseline.ids + study.result.ids
    c = study.comparison
    ev.add("delta", "paired difference (idea − baseline)", c.get("delta"), both)
    ev.add("delta_se", "standard error of the paired difference", c.get("delta_se"), both)
    if c.get("delta") is not None and study.baseline.mean:
        ev.add("relative", "relative change of the mean", (study.result.mean - study.baseline.mean)
               / abs(study.baseline.mean), both)
    for row in study.experiment.stages:
        if row.get("best_id"):
            ev.add(f"stage.{row['stage']}.best", f"best search score of the {row['stage']} stage",
                   row.get("best_score"), [row["best_id"]])
    for row in study.ablation:
        ev.add(f"ablation.{row['hunk']}", f"score with hunk {row['hunk']} reverted", row["score"], [row["id"]])
    return ev


def discuss(asker: Asker, study: Study, evidence: Evidence, topic: Topic) -> tuple[str, list[str]]:
    """(the model's discussion, the unverified numbers in it); the text is "" when the model failed."""
    listing = "\n".join(f"- {i.label}: {i.value:.6g} (attempts {', '.join(x[:8] for x in i.ids[:3])})"
                        for i in evidence.items)
    r = study.idea["record"]
    messages = [{"role": "system", "content": "You write the discussion section of a short research report."},
                {"role": "user", "content": (
                    f"{MARKER}\n\nIdea: {r['title']}. Hypothesis: {r['hypothesis']}\nVerdict of the paired test: "
                    f"{study.comparison['verdict']}.\nStored measurements (the only numbers you may use, quoted "
                    f"as given):\n{listing}\n\nWrite 3 to 6 sentences: what was tried, what the measurements "
                    "show, and what to try next. Use no number that is not in the list above.")}]
    text = asker.text(messages, what="discussion")
    if not text:
        return "", []
    return text.strip(), unverified(text, evidence)


def _first_paragraph(text: str) -> str:
    return " ".join(text.split("\n\n")[0].split())


def _idea_blocks(study: Study, ev: Evidence, store: ResearchStore) -> list[Block]:
    r, idea = study.idea["record"], study.idea
    blocks = []
    for name in ("hypothesis", "planned_change", "expected_effect"):
        text, bad = mark(r[name], ev)
        if bad and not any(f["where"] == f"idea.{name}" for f in study.flags):  # stored once, not per rendering
            flag = {"idea": idea["id"], "where": f"idea.{name}", "numbers": bad, "action": "marked"}
            study.flags.append(flag)
            store.add(FLAG, flag)
        blocks.append(Block("p", f"{name.replace('_', ' ').capitalize()} (proposed before the experiment): {text}"))
    nc = idea.get("novelty_check", {})
    blocks.append(Block("table", rows=[["self-score (the model's own)", "value"],
                                       *[[k, str(r[k])] for k in ("interestingness", "feasibility", "novelty")],
                                       ["offline novelty: closest MinHash similarity",
                                        f"{nc.get('similarity', 0):.2f} ({nc.get('source') or 'nothing to compare'})"]]))
    return blocks


def report_blocks(topic: Topic, study: Study, ev: Evidence, store: ResearchStore, plot: Path | None) -> list[Block]:
    idea, exp, c = study.idea, study.experiment, study.comparison
    title, _ = mark(idea["record"]["title"], ev)
    blocks = [Block("h1", f"{idea['id']}: {title}"),
              Block("p", f"Topic: {_first_paragraph(topic.description)} Source of the idea: {idea['source']}. "
                         f"Every number below is read from {store.url} and cited by attempt id in brackets."),
              Block("h2", "Idea"), *_idea_blocks(study, ev, store),
              Block("h2", "Method"),
              Block("p", "The idea was implemented by a staged evoforge search over the experiment template "
                         "(draft, then debug only if the draft was broken, then tune), each stage an ordinary "
                         "sandboxed run with the budget below, set by the topic and not changeable by the "
                         "experiment. The best node and the baseline were then re-evaluated on the same fresh "
                         f"seeds ({', '.join(map(str, study.result.seeds))}), never seen in the search."),
              Block("table", rows=[["stage", "status", "run", "model calls (budget)", "proposals (budget)",
                                    "attempts", "best [attempt]"]]
                    + [[s["stage"], s["status"] + (f": {s['why']}" if s.get("why") else ""), s["run_name"],
                        f"{s.get('llm_calls', 0) or 0} ({s['budget']['llm_calls']})",
                        f"{s.get('proposals', 0) or 0} ({s['budget']['proposals']})", str(s.get("attempts", 0)),
                        ev.fmt(f"stage.{s['stage']}.best")] for s in exp.stages]),
              Block("h2", "Results"),
              Block("table", rows=[["program", "mean", "std", "scores per seed [attempt]"],
                                   *[[m.role, ev.fmt(f"{m.role}.mean"), ev.fmt(f"{m.role}.std"),
                                      "; ".join(f"{seed}: {ev.fmt(f'{m.role}.seed{seed}')}" if s is not None
                                                else f"{seed}: failed" for seed, s in zip(m.seeds, m.scores))]
                                     for m in (study.baseline, study.result)]]),
              Block("p", f"Paired difference (idea − baseline) {ev.fmt('delta')} ± {ev.fmt('delta_se')} (standard "
                         f"error, {c['pairs']} seeds); relative change {ev.fmt('relative')}; verdict: {c['verdict']} "
                         f"({'higher' if topic.template.maximize else 'lower'} is better).")]
    for m in (study.baseline, study.result):
        if m.failures:
            blocks.append(Block("note", f"{m.role} failed on: " + "; ".join(m.failures)))
    if plot is not None:
        blocks.append(Block("img", "mean ± standard deviation on the fresh seeds (trusted plot)", path=plot))
    if study.ablation:
        blocks += [Block("h2", "Ablation"),
                   Block("p", f"Each changed hunk of the best program reverted to the baseline, one at a time, on seed "
                              f"{study.ablation[0]['seed']}."),
                   Block("table", rows=[["hunk", "lines", "reverted code", "score [attempt]"]]
                         + [[str(a["hunk"]), a["lines"], a["reverted"][:120],
                             ev.fmt(f"ablation.{a['hunk']}") if a["score"] is not None else f"{a['status']} [{a['id'][:8]}]"]
                            for a in study.ablation])]
    blocks += [Block("h2", "Change against the baseline"),
               Block("code", unified_diff(topic.baseline, exp.best_code) or "(no change: no stage beat the baseline)",
                     items=["diff"])]
    blocks += _discussion_blocks(study)
    blocks += _review_blocks(study)
    return blocks


def _discussion_blocks(study: Study) -> list[Block]:
    refused = [f for f in study.flags if f["where"] == "discussion"]
    if refused:
        return [Block("h2", "Discussion"),
                Block("note", "The model's discussion was refused: it cites numbers that are not in storage ("
                              + ", ".join(refused[0]["numbers"]) + "). It is kept in the database, not printed.")]
    if not study.discussion:
        return [Block("h2", "Discussion"), Block("note", "The model wrote no discussion (see research_failure events).")]
    return [Block("h2", "Discussion (written by the model; every number in it checked against storage)"),
            Block("p", study.discussion)]


def _review_blocks(study: Study) -> list[Block]:
    if not study.reviews and study.meta_review is None:
        return []
    rows = [["reviewer", "round", "overall", "soundness", "novelty", "confidence", "summary"]]
    for r in study.reviews:
        f = r["record"]
        rows.append([str(r["reviewer"]), str(r["round"]), str(f["overall"]), str(f["soundness"]), str(f["novelty"]),
                     str(f["confidence"]), f["summary"][:200]])
    blocks = [Block("h2", "Reviews"), Block("table", rows=rows)]
    if study.meta_review is not None:
        m = study.meta_review["record"]
        blocks += [Block("h3", f"Meta-review: overall {m['overall']} (confidence {m['confidence']})"),
                   Block("p", m["summary"]), Block("list", items=[f"strength: {s}" for s in m["strengths"]]
                                                   + [f"weakness: {w}" for w in m["weaknesses"]])]
    return blocks


def write_report(topic: Topic, study: Study, store: ResearchStore, asker: Asker | None,
                 pdf: bool = True) -> dict[str, Any]:
    """Write OUT/reports/IDEA/report.md and report.html (+ the plot, + report.pdf where a renderer
    is found and `pdf`); returns the stored report record."""
    folder = store.out / "reports" / study.idea["id"]
    folder.mkdir(parents=True, exist_ok=True)
    ev = build_evidence(study)
    if asker is not None and not study.discussion and not any(f["where"] == "discussion" for f in study.flags):
        text, bad = discuss(asker, study, ev, topic)
        if bad:
            flag = {"idea": study.idea["id"], "where": "discussion", "numbers": bad, "action": "refused", "text": text}
            study.flags.append(flag)
            store.add(FLAG, flag)
        else:
            study.discussion = text
    plot = bar_chart(folder / "scores", "fresh-seed scores", [m.role for m in (study.baseline, study.result)],
                     [study.baseline.mean, study.result.mean], [study.baseline.std, study.result.std],
                     "score") if study.result.ok or study.baseline.ok else None
    blocks = report_blocks(topic, study, ev, store, plot)
    md, html = folder / "report.md", folder / "report.html"
    md.write_text(to_markdown(blocks), encoding="utf-8")
    html.write_text(to_html(blocks, study.idea["record"]["title"]), encoding="utf-8")
    printed = render_pdf(html, folder / "report.pdf") if pdf else None
    record = {"idea": study.idea["id"], "markdown": str(md), "html": str(html),
              "pdf": str(printed.path) if printed and printed.path else None,
              "pdf_note": (printed.note if printed else "pdf: false in research.yaml"),
              "plot": str(plot) if plot else None, "flags": study.flags, "evidence": ev.to_list(),
              "markdown_text": md.read_text(encoding="utf-8"), "reviewed": bool(study.reviews)}
    store.add(REPORT, record)
    return record
