"""Trusted evaluator of multi_file_solver: the candidate learns the hidden function only through
counted queries answered here, so compute is bounded by the query budget, not by time.

Each of the INSTANCES is a sum of three smooth bumps with seeded centres, heights and widths;
the candidate's `solver.main.search(query, budget, n, seed)` runs in the sandbox (its folder laid
out as src/ is) and may ask at most BUDGET queries per instance (`candidate.interact`: one more,
or a query off the grid, makes the program invalid), within a CPU budget per instance. The score
is the mean over instances of (best value among its queries) / (the instance's true maximum).
"""
from __future__ import annotations

import math
import random

from evoforge import Candidate, CandidateBudgetExceeded, InteractionError, QueryRejected, Result

N = 100_000                    # the grid: integers 0 .. N-1
BUDGET = 40                    # queries per instance
INSTANCES = tuple(range(7, 19))  # seeds of the 12 hidden instances
CPU_BUDGET_S = 5.0             # CPU seconds per instance (the whole process tree), start-up included


class Instance:
    """sum of three bumps h * exp(-((x - c) / w)^2), seeded; its maximum is found on the grid once."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        self.bumps = [(rng.uniform(0.3, 1.0), rng.uniform(0.05, 0.95) * N, rng.uniform(0.004, 0.03) * N)
                      for _ in range(3)]
        self.maximum = max(self.value(x) for x in range(0, N, 7))
        self.maximum = max(self.maximum, *(self.value(x) for _, c, _ in self.bumps
                                           for x in range(max(0, int(c) - 50), min(N, int(c) + 50))))

    def value(self, x: int) -> float:
        return sum(h * math.exp(-((x - c) / w) ** 2) for h, c, w in self.bumps)

    def __call__(self, x: object) -> float:
        if isinstance(x, bool) or not isinstance(x, int) or not 0 <= x < N:
            raise QueryRejected(f"x must be an integer in [0, {N}), got {x!r}")
        return self.value(x)


def evaluate(candidate: Candidate) -> Result:
    ratios = []
    for seed in INSTANCES:
        instance = Instance(seed)
        try:
            session = candidate.interact("search", instance, BUDGET, N, seed,
                                         max_queries=BUDGET, timeout=20, cpu_budget_s=CPU_BUDGET_S)
        except (InteractionError, CandidateBudgetExceeded) as exc:   # over a budget, a bad query, a crash
            return Result.invalid(exc.summary)
        if not session.answers:
            return Result.invalid("the solver asked no query")
        ratios.append(max(session.answers) / instance.maximum)
    mean = sum(ratios) / len(ratios)
    return Result(score=mean,
                  feedback=(f"mean best/maximum over {len(ratios)} hidden instances {mean:.4f}; worst "
                            f"{min(ratios):.4f}, best {max(ratios):.4f} ({BUDGET} queries each)"),
                  metrics={"worst_ratio": min(ratios)})
