"""Trusted evaluator: the candidate only proposes points; f is computed here."""
import math

from evoforge import Candidate, Result

SEEDS = (11, 23, 47)
GLOBAL_MIN = -1.5187  # approximate global minimum of f on the box


def f(x, y):
    return math.sin(x) * math.cos(y) + math.sin(x * y) + (x * x + y * y) / 20


def evaluate(candidate: Candidate) -> Result:
    values = []
    for seed in SEEDS:
        point = candidate.call("search", seed, timeout=10)
        if not isinstance(point, (list, tuple)) or len(point) != 2:
            return Result.invalid(f"search({seed}) must return a pair (x, y), got {point!r:.80}")
        try:
            x, y = float(point[0]), float(point[1])
        except (TypeError, ValueError):
            return Result.invalid(f"search({seed}) returned non-numbers")
        if not (math.isfinite(x) and math.isfinite(y)):
            return Result.invalid(f"search({seed}) returned a non-finite point")
        if not (-5 <= x <= 5 and -5 <= y <= 5):
            return Result.invalid(f"search({seed}) returned ({x:.3f}, {y:.3f}), outside the box [-5, 5]^2")
        values.append(f(x, y))
    mean = sum(values) / len(values)
    return Result(
        score=mean,
        feedback=f"mean f over {len(SEEDS)} seeds {mean:.5f} (global minimum about {GLOBAL_MIN}); worst seed {max(values):.5f}",
        metrics={"mean_f": mean, "worst_f": max(values), "gap": mean - GLOBAL_MIN},
    )
