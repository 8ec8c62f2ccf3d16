"""The promotion test: accepts a clear improvement, rejects noise, and says what it did."""
from __future__ import annotations

import random

import pytest

from evoforge.rsi.stats import min_pairs, paired_permutation_test


def test_clear_improvement_is_accepted():
    rng = random.Random(1)
    base = [rng.uniform(0, 2) for _ in range(10)]
    better = [b + 0.5 + rng.uniform(-0.1, 0.1) for b in base]
    t = paired_permutation_test(better, base, alpha=0.05)
    assert t.accepted and t.exact and t.p_value == pytest.approx(1 / 1024)
    assert t.wins == 10 and t.losses == 0 and "accepted" in t.summary()


def test_noise_is_rejected():
    rng = random.Random(2)
    rejected = 0
    for _ in range(40):
        base = [rng.gauss(0, 1) for _ in range(8)]
        noisy = [b + rng.gauss(0, 1) for b in base]
        rejected += not paired_permutation_test(noisy, base, alpha=0.05).accepted
    assert rejected >= 34  # a valid test at α = 0.05 rejects ~95% of pure noise


def test_ties_worse_and_margin():
    assert paired_permutation_test([1, 2, 3], [1, 2, 3]).p_value == 1.0
    assert not paired_permutation_test([0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1]).accepted
    better = [x + 0.2 for x in range(8)]
    assert paired_permutation_test(better, list(range(8)), margin=0.1).accepted
    assert not paired_permutation_test(better, list(range(8)), margin=0.3).accepted


def test_power_limit_and_monte_carlo():
    assert min_pairs(0.05) == 5 and min_pairs(0.25) == 2
    assert not paired_permutation_test([2, 2, 2, 2], [1, 1, 1, 1], alpha=0.05).accepted  # p = 1/16 at best
    rng = random.Random(3)
    base = [rng.gauss(0, 1) for _ in range(30)]
    t = paired_permutation_test([b + 1 for b in base], base, max_exact=16, samples=2000)
    assert not t.exact and t.accepted and t.p_value < 0.01


def test_matches_scipy_when_available():
    stats = pytest.importorskip("scipy.stats")
    rng = random.Random(4)
    a = [rng.gauss(0.3, 1) for _ in range(9)]
    b = [rng.gauss(0, 1) for _ in range(9)]
    ours = paired_permutation_test(a, b).p_value
    ref = stats.permutation_test((a, b), lambda x, y: sum(x) / len(x) - sum(y) / len(y), permutation_type="samples",
                                 alternative="greater", n_resamples=10_000).pvalue
    assert ours == pytest.approx(ref, abs=1e-9)
