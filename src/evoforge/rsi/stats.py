"""The statistical test behind verified promotion: a one-sided paired sign-flip permutation test.

Why this test: the numbers are few (held-out tasks × seeds, often 5–20 pairs), not normal, and
paired (both strategies run on the same task with the same seed, so task difficulty cancels).
Under the null hypothesis "the candidate is no better than the incumbent by more than
`margin`", each paired difference ``d_i - margin`` is as likely positive as negative, so every
assignment of signs is equally likely. The p-value is the share of the 2^n sign assignments
whose mean difference is at least the observed one: exact for n ≤ `max_exact`, Monte Carlo
(seeded, so decisions are reproducible) beyond.

Consequence worth knowing: with n pairs the smallest possible p-value is 2^-n, so α = 0.05 needs
at least 5 pairs (`min_pairs`). All-zero differences give p = 1 (no evidence).
"""
from __future__ import annotations

import itertools
import math
import random
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

METHOD = "one-sided paired sign-flip permutation test on mean difference"


@dataclass
class PairedTest:
    """The outcome of one comparison, with everything needed to re-check it by hand."""

    method: str
    n: int
    mean_diff: float
    margin: float
    p_value: float
    alpha: float
    accepted: bool
    exact: bool
    wins: int
    losses: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        verdict = "accepted" if self.accepted else "rejected"
        return (f"{verdict}: mean difference {self.mean_diff:+.4g} over {self.n} pairs "
                f"({self.wins} better, {self.losses} worse), margin {self.margin:g}, "
                f"p = {self.p_value:.4g} ({'exact' if self.exact else 'Monte Carlo'}), α = {self.alpha:g}")


def min_pairs(alpha: float) -> int:
    """The fewest pairs with which a sign-flip test can reach p ≤ alpha at all."""
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    return max(1, math.ceil(math.log2(1.0 / alpha) - 1e-12))


def paired_permutation_test(candidate: Sequence[float], incumbent: Sequence[float], *, alpha: float = 0.05,
                            margin: float = 0.0, max_exact: int = 16, samples: int = 20_000,
                            seed: int = 0) -> PairedTest:
    """Is `candidate` better than `incumbent` by more than `margin` (higher is better)?

    Accepted when the observed mean difference exceeds `margin` and p ≤ `alpha`.
    """
    if len(candidate) != len(incumbent):
        raise ValueError(f"paired samples differ in length: {len(candidate)} vs {len(incumbent)}")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    diffs = [float(c) - float(i) for c, i in zip(candidate, incumbent)]
    if any(not math.isfinite(d) for d in diffs):
        raise ValueError("paired differences must be finite")
    n = len(diffs)
    if n == 0:
        return PairedTest(METHOD, 0, 0.0, margin, 1.0, alpha, False, True, 0, 0)
    shifted = [d - margin for d in diffs]
    observed = sum(shifted) / n
    tol = 1e-12 * max(1.0, max(abs(d) for d in shifted))
    if n <= max_exact:
        total = hits = 0
        for signs in itertools.product((1.0, -1.0), repeat=n):
            total += 1
            if sum(s * d for s, d in zip(signs, shifted)) / n >= observed - tol:
                hits += 1
        p, exact = hits / total, True
    else:
        rng = random.Random(seed)
        hits = 1  # the observed assignment itself (keeps p > 0, the usual +1 correction)
        for _ in range(samples):
            if sum(d if rng.random() < 0.5 else -d for d in shifted) / n >= observed - tol:
                hits += 1
        p, exact = hits / (samples + 1), False
    mean_diff = sum(diffs) / n
    accepted = mean_diff > margin and p <= alpha
    wins = sum(1 for d in diffs if d > 0)
    losses = sum(1 for d in diffs if d < 0)
    return PairedTest(METHOD, n, mean_diff, margin, p, alpha, accepted, exact, wins, losses)
