"""``evoforge research``: ideas → experiments → write-up → review, on evoforge's own engine.

One invocation: load and check the topic, open (or create) the out folder's database, admit the
topic's seed ideas not studied yet and ``ideas`` new ones from the model, then for each idea that
is new and novel: the staged search, the fresh-seed measurements of its best node and of the
baseline, the ablation, the report, the reviews, and the report again with the reviews in it.
Its outcome goes into the archive, where the next ideation prompt reads it.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .asking import Asker
from .experiment import run_stages
from .ideation import propose, seed_ideas
from .measure import ablate, measure, paired
from .novelty import NoveltyIndex
from .review import review
from .store import OUTCOME, ResearchStore
from .topic import Topic, load_topic
from .writeup import Study, write_report

SUMMARY_FILE = "research.json"


@dataclass
class ResearchSummary:
    """What one invocation did; also written to OUT/research.json."""

    out_dir: str
    storage_url: str
    run_id: str
    ideas: list[dict[str, Any]] = field(default_factory=list)   # id, title, status, verdict, report, meta score
    model_calls: int = 0
    seconds: float = 0.0


def _provider(llm: str | None, log: Callable[[str], None]) -> Any:
    from ..llm.registry import EMBEDDED_NOTICE, create_provider, default_model_spec

    spec = llm or default_model_spec()
    if spec == "embedded":
        log(EMBEDDED_NOTICE)
    return create_provider(spec)


def _once(log: Callable[[str], None]) -> Callable[[str], None]:
    """`log` that prints the embedded model's notice only the first time: every stage run starts a
    provider and says it again, which buries the loop's own lines."""
    from ..llm.registry import EMBEDDED_NOTICE

    seen: list[bool] = []

    def say(text: str) -> None:
        if text.strip() == EMBEDDED_NOTICE.strip():
            if seen:
                return
            seen.append(True)
        log(text)
    return say


def study_idea(topic: Topic, store: ResearchStore, idea: dict[str, Any], *, llm: str | None, asker: Asker | None,
               log: Callable[[str], None]) -> Study:
    """Run, measure, write up and review one idea; its outcome is stored."""
    store.set_status(idea["id"], "running")
    exp = run_stages(topic, idea, store, llm=llm, log=log)
    base = measure(topic, store, topic.baseline, role="baseline", idea=None, source_id=exp.baseline_id)
    result = measure(topic, store, exp.best_code, role="idea", idea=idea["id"], source_id=exp.best_id)
    comparison = paired(result, base, topic.template.maximize)
    rows = ablate(topic, store, exp.best_code, idea=idea["id"], source_id=exp.best_id) \
        if exp.best_id and exp.best_id != exp.baseline_id and topic.settings.ablate_max else []
    study = Study(idea, exp, base, result, comparison, rows)
    store.add(OUTCOME, {"idea": idea["id"], "best_id": exp.best_id, "baseline_mean": base.mean, "idea_mean": result.mean,
                        "baseline": base.to_dict(), "result": result.to_dict(), **comparison})
    log(f"{idea['id']}: {comparison['verdict']} (idea {result.mean} vs baseline {base.mean} on {len(base.seeds)} "
        "fresh seeds)")
    pdf = topic.settings.pdf
    report = write_report(topic, study, store, asker, pdf=pdf and asker is None)
    if asker is not None:
        study.reviews, study.meta_review = review(asker, store, idea["id"], report["markdown_text"],
                                                  reviewers=topic.settings.reviewers,
                                                  reflections=topic.settings.review_reflections)
        # the final report (with the reviews, when there are any) is the one printed as PDF
        if study.reviews or pdf:
            report = write_report(topic, study, store, None, pdf=pdf)
    if pdf:
        log(f"{idea['id']}: PDF {report['pdf']}" if report["pdf"] else f"{idea['id']}: no PDF ({report['pdf_note']})")
    study.report = report
    store.set_status(idea["id"], "studied", comparison["verdict"])
    return study


def research(topic_dir: str | Path, out: str | Path, *, llm: str | None = None, ideas: int | None = None,
             overrides: dict[str, Any] | None = None, log: Callable[[str], None] | None = None) -> ResearchSummary:
    """Mirror of ``evoforge research TOPIC_DIR --out DIR``; raises UserError for bad input."""
    say = _once(log or (lambda _text: None))
    started = time.time()
    ov = dict(overrides or {})
    if ideas is not None:
        ov["ideas"] = ideas
    topic = load_topic(topic_dir, ov)
    out_dir = Path(out)
    if out_dir.exists() and not out_dir.is_dir():
        raise UserError(f"--out {out_dir} is a file, not a folder")
    out_dir.mkdir(parents=True, exist_ok=True)
    store = ResearchStore(out_dir, topic=str(topic.path), settings=topic.settings.to_dict())
    provider = None
    try:
        index = NoveltyIndex(store.ideas(), topic.corpus)
        todo = seed_ideas(topic, store, index)
        need_model = topic.settings.ideas > 0 or bool(todo)
        provider = _provider(llm, say) if need_model else None
        asker = Asker(provider, store, retries=topic.settings.retries, temperature=topic.settings.temperature,
                      max_tokens=topic.settings.max_tokens) if provider is not None else None
        for n in range(topic.settings.ideas):
            idea = propose(asker, topic, store, index) if asker else None
            if idea is None:
                say(f"new idea {n + 1}: the model gave no valid idea record (stored as research_failure events)")
                continue
            todo.append(idea)
        summary = ResearchSummary(str(out_dir), store.url, store.run_id)
        for idea in todo:
            title = idea["record"]["title"]
            if idea["status"] != "new":
                say(f"{idea['id']} ({title}): not run, {idea['status']} ({idea.get('why', '')})")
                summary.ideas.append({"id": idea["id"], "title": title, "status": idea["status"]})
                continue
            say(f"{idea['id']}: {title}")
            study = study_idea(topic, store, idea, llm=llm, asker=asker, log=say)
            summary.ideas.append({"id": idea["id"], "title": title, "status": "studied",
                                  "verdict": study.comparison["verdict"], "best_id": study.experiment.best_id,
                                  "report": str(out_dir / "reports" / idea["id"] / "report.html"),
                                  "pdf": study.report.get("pdf") if study.report else None,
                                  "meta_overall": study.meta_review["record"]["overall"] if study.meta_review else None,
                                  "flags": len(study.flags)})
        summary.model_calls = asker.calls if asker else 0
        summary.seconds = round(time.time() - started, 1)
        (out_dir / SUMMARY_FILE).write_text(json.dumps(asdict(summary), indent=2), encoding="utf-8")
        return summary
    finally:
        if provider is not None:
            provider.close()
        store.close()
