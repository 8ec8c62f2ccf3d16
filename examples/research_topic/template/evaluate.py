"""Trusted evaluator of the research example: the candidate learns f only through counted queries.

The hidden function is computed here, in the trusted process; `search(f, budget, seed)` runs in
the sandbox and gets a callable that sends each query to this process. It may ask at most BUDGET
queries per instance (the sandbox refuses query 41) and has a CPU budget for all its calls
together (evaluator.cpu_budget_s in task.yaml, which the candidate cannot change), so a program
cannot score better by running longer or asking more: only a better algorithm does.

`seed` selects the hidden instances: the search scores with seed 0, and the research loop
re-evaluates the best program on fresh seeds it never saw.
"""
from __future__ import annotations

import math
import random

from evoforge import Candidate, CandidateBudgetExceeded, InteractionError, QueryRejected, Result

BUDGET = 40           # queries per instance
INSTANCES = 6         # hidden instances per evaluation
BOX = 10.0


class Valley:
    """f(x) = ((x - s) / 4)^2 + a * (1 - cos(w (x - s))): a wide valley with ripples; min 0 at s."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.shift = rng.uniform(-6.0, 6.0)
        self.amp = rng.uniform(0.3, 0.8)
        self.freq = rng.uniform(2.0, 4.0)

    def __call__(self, x: object) -> float:
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise QueryRejected(f"x must be a number, got {type(x).__name__}")
        if not math.isfinite(x) or abs(x) > BOX:
            raise QueryRejected(f"x={x!r} is outside [-10, 10]")
        u = float(x) - self.shift
        return (u / 4.0) ** 2 + self.amp * (1.0 - math.cos(self.freq * u))


def evaluate(candidate: Candidate, seed: int = 0) -> Result:
    gaps = []
    for index in range(INSTANCES):
        instance_seed = 7919 * seed + index
        try:
            session = candidate.interact("search", Valley(instance_seed), BUDGET, instance_seed,
                                         max_queries=BUDGET, timeout=10)
        except (InteractionError, CandidateBudgetExceeded) as exc:
            return Result.invalid(exc.summary)
        if not session.answers:
            return Result.invalid("search() asked no query")
        gaps.append(min(session.answers))
    mean = sum(gaps) / len(gaps)
    return Result(score=mean,
                  feedback=(f"mean gap to the true minimum over {len(gaps)} hidden instances {mean:.4f} "
                            f"(best {min(gaps):.4f}, worst {max(gaps):.4f}; {BUDGET} queries each)"),
                  metrics={"mean_gap": mean, "worst_gap": max(gaps)})
