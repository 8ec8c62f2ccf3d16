"""Racing: stop scoring a candidate strategy once it is clearly worse than the incumbent.

Why: a strategy's fitness costs many inner runs, and most candidates of an evolution are worse
than the incumbent. As in F-race / irace, the candidate is run on the training instances one
at a time (tasks interleaved, so the first few already cover every task) and, after each one,
compared with the incumbent's run on the *same* instance (same task, same seed: paired, so task
difficulty and seed luck cancel). When the one-sided paired sign-flip test of `stats` says the
incumbent is better with p ≤ `alpha`, the candidate is dropped and the remaining instances are
never run. A candidate that is not clearly worse runs on every instance, so a winner is always
judged on the full training set.

The racing test only saves compute; it never promotes anything. Promotion stays with the
held-out gate (`promotion`), unchanged.

A dropped candidate's fitness is the paired estimate ``incumbent mean + mean(candidate −
incumbent on the instances run)``: below the incumbent's fitness (the race dropped it because
that difference is negative), and comparable with the fitness of candidates that ran in full.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from .stats import min_pairs, paired_permutation_test


@dataclass(frozen=True)
class RaceRule:
    """When to drop: after at least `min_runs` paired instances, at one-sided p ≤ `alpha`."""

    alpha: float = 0.1
    min_runs: int = 0   # 0: the fewest with which the test can reach `alpha` at all

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"racing alpha must be in (0, 1), got {self.alpha}")

    @property
    def first_check(self) -> int:
        return max(self.min_runs, min_pairs(self.alpha))


def instance_order(tasks: Sequence[str], seeds: Sequence[int]) -> list[tuple[str, int]]:
    """(task, seed) pairs with the tasks interleaved: every task once, then every task again..."""
    return [(t, s) for s in seeds for t in tasks]


def drop_verdict(candidate: Sequence[float], incumbent: Sequence[float], rule: RaceRule) -> dict[str, Any] | None:
    """None to keep racing, or the numbers of the test that dropped the candidate."""
    n = len(candidate)
    if n < rule.first_check:
        return None
    worse = paired_permutation_test(incumbent, candidate, alpha=rule.alpha)  # is the incumbent better?
    if not worse.accepted:
        return None
    return {"after_runs": n, "p_value": worse.p_value, "mean_diff": -worse.mean_diff, "alpha": rule.alpha}


def raced_fitness(candidate: Sequence[float], incumbent_run: Sequence[float], incumbent_mean: float) -> float:
    """The paired estimate of a dropped candidate's fitness (see the module docstring)."""
    if not candidate:
        return incumbent_mean
    return incumbent_mean + sum(c - i for c, i in zip(candidate, incumbent_run)) / len(candidate)
