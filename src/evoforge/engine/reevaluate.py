"""Elites are re-evaluated on fresh seeds before they are reported as best.

An evaluator that accepts a ``seed`` keyword receives seeds it has not seen during the search;
one that does not is simply run again (which still exposes non-determinism). A program whose
fresh score falls well below its search score raises an alert, and the reported best is the
elite with the best *fresh* score.
"""
from __future__ import annotations

from typing import Any, Callable

from ..program import AttemptStatus
from . import snapshot
from .evaluation import evaluate_staged

FRESH_SEED_BASE = 1_000_003


def reevaluate_elites(engine: Any, executor: Any, top: int, *, log: Callable[[str], None] | None = None) -> None:
    storage, run = engine.storage, engine.run
    elites = storage.best_attempts(run.id, top, maximize=engine.task.maximize)
    best, best_fit = None, None
    for rank, a in enumerate(elites):
        if "reeval_score" in a.metrics:  # done in an earlier session of this run
            fresh = a.metrics["reeval_score"]
        else:
            seed = FRESH_SEED_BASE + 7919 * engine.cfg.seed + rank
            ev = evaluate_staged(engine.task, executor, a.code or "", {"seed": seed}, integrity=engine.integrity)
            fresh = ev.result.score if (ev.status == "ok" and ev.result is not None) else None
            a.metrics["reeval_score"] = fresh
            a.metrics["reeval_seed"] = seed
            if fresh is None:
                a.metrics["reeval_reason"] = ev.reason
            storage.save_attempt(a)
            snapshot.invalidate(storage, run.id)   # its metrics changed: a grid axis may read them
        fit = None if fresh is None else engine.guard.fitness(fresh)
        drop = None if fit is None else engine.guard.fitness(a.score) - fit
        if fit is None or (drop is not None and drop > engine.cfg.safety.overfit_gap * max(abs(a.score), 1e-12)):
            message = (f"elite {a.id} scored {a.score:.6g} in the search but "
                       f"{'failed' if fresh is None else f'{fresh:.6g}'} on fresh seeds")
            storage.add_event(run.id, "alert", {"kind": "reevaluation", "id": a.id, "message": message})
            if log:
                log(f"alert: {message}")
        if fit is not None and (best_fit is None or fit > best_fit):
            best, best_fit = a, fit
    if best is not None and best.status is AttemptStatus.OK:
        engine.best = best
        storage.add_event(run.id, "reevaluated_best", {"id": best.id, "score": best.score, "fresh": best.metrics.get("reeval_score")})
