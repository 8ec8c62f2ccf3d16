"""An idea's experiment: a staged evoforge search over the template (draft → debug → tune).

Each stage is an ordinary ``evoforge.run`` on a task folder this module writes (``OUT/tasks/
idea-N-STAGE``): the template's files, the stage's starting program, and a ``task.yaml`` whose
description carries the idea and whose budgets (model calls, proposals, wall clock), sandbox
level and integrity check come from the topic's settings. The candidate programs run in the
sandbox and never see these files, so no experiment can raise its own budget or timeout; the
integrity check stops a run if the task files change underneath it.

* draft: implement the idea, starting from the baseline.
* debug: only when the draft produced no valid improvement but broken programs: start from the
  latest broken one, so the engine's repair proposals fix it.
* tune: start from the best so far, with the cheap numeric operators (perturb) and small diffs.
The ablation and the fresh-seed re-evaluation are trusted code (`measure`).
"""
from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..engine.session import SNAPSHOT_IGNORE
from ..program import Attempt, AttemptStatus
from ..task import read_task_yaml
from .settings import STAGES, StageBudget
from .store import EXPERIMENT, ResearchStore
from .topic import Topic

FAILED = (AttemptStatus.ERROR, AttemptStatus.INVALID, AttemptStatus.TIMEOUT)


@dataclass
class Experiment:
    """What the stages produced: the best program (its attempt id and search score) and a row per stage."""

    idea_id: str
    best_code: str
    best_id: str | None
    best_score: float | None
    baseline_id: str | None
    stages: list[dict[str, Any]] = field(default_factory=list)


def better(a: float | None, b: float | None, maximize: bool) -> bool:
    if a is None:
        return False
    return b is None or (a > b if maximize else a < b)


def idea_brief(idea: dict[str, Any]) -> str:
    r = idea["record"]
    return (f"Research idea to test ({idea['id']}): {r['title']}\nHypothesis: {r['hypothesis']}\n"
            f"Planned change: {r['planned_change']}\nExpected effect: {r['expected_effect']}")


STAGE_GOALS = {
    "draft": "Implement the research idea below in the program (inside the EVOLVE-BLOCK), faithfully.",
    "debug": "The program below implements the research idea but fails; fix the failure, keep the idea.",
    "tune": "The program below implements the research idea; tune its details and constants to score better.",
}


def write_stage_task(topic: Topic, folder: Path, code: str, stage: str, idea: dict[str, Any],
                     budget: StageBudget, notes: str = "") -> Path:
    """The stage's task folder: the template with `code` as its program and trusted budgets."""
    if folder.exists():
        shutil.rmtree(folder)
    shutil.copytree(topic.template.path, folder, ignore=SNAPSHOT_IGNORE)
    (folder / topic.template.config.program).write_text(code, encoding="utf-8")
    raw = read_task_yaml(topic.template.path)
    s = topic.settings
    raw["description"] = (f"{topic.template.config.description.strip()}\n\n{STAGE_GOALS[stage]}\n\n"
                          f"{idea_brief(idea)}" + (f"\n\n{notes}" if notes else ""))
    raw["budget"] = {"llm_calls": budget.llm_calls, "proposals": budget.proposals,
                     "wall_clock_s": s.stage_wall_clock_s}
    raw["evaluator"] = {**(raw.get("evaluator") or {}), "isolation": s.isolation, "reevaluate_top": 0}
    raw["safety"] = {**(raw.get("safety") or {}), "integrity": True}
    raw["mutation"] = {**(raw.get("mutation") or {}), "weights": dict(budget.weights)}
    (folder / "task.yaml").write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return folder


def _failures(attempts: list[Attempt]) -> list[Attempt]:
    return [a for a in attempts if a.status in FAILED and a.code is not None and a.mutation != "initial"]


def run_stages(topic: Topic, idea: dict[str, Any], store: ResearchStore, *, llm: str | None,
               log: Callable[[str], None]) -> Experiment:
    """Run the model stages of one idea; every stage is stored as an event of the research run."""
    maximize = topic.template.maximize
    exp = Experiment(idea["id"], topic.baseline, None, None, None)
    last_failures: list[Attempt] = []
    for stage in STAGES:
        budget: StageBudget = getattr(topic.settings, stage)
        name = f"{idea['id']}-{stage}"
        row: dict[str, Any] = {"idea": idea["id"], "stage": stage, "run_name": name,
                               "budget": {"llm_calls": budget.llm_calls, "proposals": budget.proposals}}
        start, notes = exp.best_code, ""
        if budget.proposals == 0:
            row.update(status="skipped", why="the stage has no budget")
        elif stage == "debug" and (exp.best_id != exp.baseline_id or not last_failures):
            row.update(status="skipped", why="the draft produced a valid improvement" if exp.best_id != exp.baseline_id
                       else "the draft produced no broken program to fix")
        else:
            if stage == "debug":
                broken = last_failures[-1]
                start, notes = broken.code or start, f"It failed with: {broken.reason[:600]}"
                row["started_from"] = broken.id
            row.update(_run_stage(topic, store, idea, stage, name, start, budget, notes, llm, log))
            attempts = store.storage.attempts(row["run_id"])
            initial = next((a for a in attempts if a.mutation == "initial"), None)
            if exp.baseline_id is None and initial is not None and initial.status is AttemptStatus.OK:
                exp.baseline_id = exp.best_id = initial.id
                exp.best_score = initial.score
            last_failures = _failures(attempts)
            best = store.storage.best_attempts(row["run_id"], 1, maximize=maximize)
            if best and best[0].code is not None and best[0].id != (initial.id if initial else None) \
                    and better(best[0].score, exp.best_score, maximize):
                exp.best_code, exp.best_id, exp.best_score = best[0].code, best[0].id, best[0].score
            row.update(best_id=best[0].id if best else None, best_score=best[0].score if best else None,
                       attempts=len(attempts), by_status=dict(Counter(a.status.value for a in attempts)),
                       failures=[{"id": a.id, "status": a.status.value, "reason": a.reason[:300]}
                                 for a in last_failures[:8]])
        store.add(EXPERIMENT, row)
        exp.stages.append(row)
        log(f"{name}: {row['status']}" + (f" ({row['why']})" if row.get("why") else
                                          f", best {row.get('best_score')} ({row.get('best_id')})"))
    return exp


def _run_stage(topic: Topic, store: ResearchStore, idea: dict[str, Any], stage: str, name: str, code: str,
               budget: StageBudget, notes: str, llm: str | None, log: Callable[[str], None]) -> dict[str, Any]:
    import evoforge

    task = write_stage_task(topic, store.out / "tasks" / name, code, stage, idea, budget, notes)
    result = evoforge.run(task, llm=llm, storage=store.url, run_dir=store.out / "runs" / name, log=log)
    return {"status": "ran", "run_id": result.run_id, "stop_reason": result.stop_reason,
            "llm_calls": result.stats.get("llm_calls"), "proposals": result.stats.get("proposals")}
