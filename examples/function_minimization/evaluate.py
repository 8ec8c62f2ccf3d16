"""Trusted evaluator: the candidate sees f only through counted queries answered here.

The hidden function is evaluated in this (trusted) process only; the candidate's
`search(f, budget, seed)` gets a callable that sends each query over a pipe and waits for the
answer. It may ask at most BUDGET queries per instance, so running longer cannot help: only a
better use of the same queries scores better. Each instance is the bumpy function shifted and
rotated by a seeded transform the candidate never sees, so the minimum's location cannot be
hard-coded; there are 20 of them because with a handful, a lucky constant (a step biased in one
direction) beats a better algorithm. The score is the mean, over the instances, of the lowest
value among the candidate's queries (what it found within its budget), lower is better.
"""
from __future__ import annotations

import math
import random

from evoforge import Candidate, CandidateBudgetExceeded, InteractionError, QueryRejected, Result

BUDGET = 100                 # queries per instance
INSTANCES = tuple(range(101, 121))  # seeds of the 20 hidden shifted, rotated instances
GLOBAL_MIN = -1.5187         # the minimum value of every instance (inside the box)
BOX = 5.0
CPU_BUDGET_S = 5.0           # CPU seconds per instance (the whole process tree), start-up included


def bumpy(x: float, y: float) -> float:
    return math.sin(x) * math.cos(y) + math.sin(x * y) + (x * x + y * y) / 20


class Instance:
    """One hidden instance: bumpy(R(p - s)) with a seeded rotation R and shift s."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(seed)
        angle = rng.uniform(0, 2 * math.pi)
        self.cos, self.sin = math.cos(angle), math.sin(angle)
        self.sx, self.sy = rng.uniform(-1.5, 1.5), rng.uniform(-1.5, 1.5)

    def __call__(self, x: object, y: object) -> float:
        for name, v in (("x", x), ("y", y)):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise QueryRejected(f"{name} must be a number, got {type(v).__name__}")
            if not math.isfinite(v) or abs(v) > BOX:
                raise QueryRejected(f"{name}={v!r} is outside the box [-5, 5]")
        u, v = float(x) - self.sx, float(y) - self.sy
        return bumpy(self.cos * u - self.sin * v, self.sin * u + self.cos * v)


def evaluate(candidate: Candidate) -> Result:
    found, used = [], []
    for index, seed in enumerate(INSTANCES):
        try:
            session = candidate.interact("search", Instance(seed), BUDGET, index,
                                         max_queries=BUDGET, timeout=10,
                                         cpu_budget_s=CPU_BUDGET_S)
        except (InteractionError, CandidateBudgetExceeded) as exc:  # over a budget, bad query, crash
            return Result.invalid(exc.summary)
        found.append(min(session.answers))
        used.append(session.queries)
    mean = sum(found) / len(found)
    return Result(
        score=mean,
        feedback=(f"mean best f over {len(found)} hidden instances {mean:.5f} (global minimum "
                  f"about {GLOBAL_MIN}); best instance {min(found):.4f}, worst {max(found):.4f}; "
                  f"{sum(used)} queries used ({BUDGET} allowed per instance)"),
        metrics={"mean_f": mean, "worst_f": max(found), "gap": mean - GLOBAL_MIN,
                 "queries": sum(used)},
    )
