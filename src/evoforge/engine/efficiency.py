"""Sample efficiency of a finished (or running) run: what it spent before it first reached its
best score, counted in model calls, evaluations and proposals.

Why from storage, not from counters in the engine: a resumed or shared run has attempts made by
other processes; the stored attempts and model calls are the one complete record.
"""
from __future__ import annotations

from collections import Counter
from typing import Any

from ..program import AttemptStatus

# attempts that reached the sandbox and the evaluator (the rest were rejected before: no cost)
EVALUATED = frozenset({AttemptStatus.OK, AttemptStatus.INVALID, AttemptStatus.ERROR, AttemptStatus.TIMEOUT,
                       AttemptStatus.QUARANTINED})


def best_after(storage: Any, run_id: str, maximize: bool) -> dict[str, int] | None:
    """``{"proposals", "model_calls", "evaluations"}`` spent up to and including the attempt that
    first reached the run's best score (None when no program scored). The initial program counts as
    one evaluation and no proposal."""
    attempts = sorted(storage.attempts(run_id, with_code=False), key=lambda a: a.proposal_index)
    calls = Counter(c.attempt_id for c in storage.llm_calls(run_id) if c.attempt_id)
    best: float | None = None
    spent = {"proposals": 0, "model_calls": 0, "evaluations": 0}
    at_best: dict[str, int] | None = None
    for a in attempts:
        if a.mutation != "initial":
            spent["proposals"] += 1
        spent["model_calls"] += calls.get(a.id, 0)
        spent["evaluations"] += a.status in EVALUATED
        if a.is_program and a.score is not None and (best is None or (a.score > best if maximize else a.score < best)):
            best, at_best = a.score, dict(spent)
    return at_best
