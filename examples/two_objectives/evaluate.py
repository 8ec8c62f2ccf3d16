"""Trusted evaluator of the two-objective example: digits of pi against measured CPU.

The candidate's estimate_pi() runs in its own sandboxed process; this process checks the answer.
`digits` is -log10 of the absolute error (capped at 15: a double has no more). The second
objective, the CPU seconds of that call, is not reported here at all: the engine reads the
measurement the sandbox made from outside (`compute.cpu_s` in task.yaml), so a candidate cannot
claim to be cheap. A call over CPU_BUDGET_S is killed and the attempt is invalid: compute is
bounded, so "more terms" cannot run away.
"""
from __future__ import annotations

import math

from evoforge import Candidate, CandidateError, Result

CPU_BUDGET_S = 1.5   # CPU seconds for the one call (its whole process tree); task.yaml bounds the evaluation at 2.0
CPU_WEIGHT = 5.0     # the plain score's price of a CPU second in digits (a weighted sum, for runs without objectives)


def evaluate(candidate: Candidate) -> Result:
    try:
        estimate = candidate.call("estimate_pi", timeout=20, cpu_budget_s=CPU_BUDGET_S)
    except CandidateError as exc:
        return Result.invalid(str(exc))
    if isinstance(estimate, bool) or not isinstance(estimate, (int, float)) or not math.isfinite(estimate):
        return Result.invalid(f"estimate_pi() returned {estimate!r}, not a finite number")
    error = abs(float(estimate) - math.pi)
    digits = min(15.0, -math.log10(error)) if error > 0 else 15.0
    cost = candidate.last_cost
    cpu_s = cost.cpu_s if cost is not None else 0.0
    return Result(
        score=digits - CPU_WEIGHT * cpu_s,   # the plain weighted-sum score, for a run without `objectives:`
        feedback=(f"estimate {estimate!r}, error {error:.3g} ({digits:.2f} digits) in "
                  f"{cpu_s:.3f} s CPU"),
        metrics={"digits": digits, "error": error},
    )
