"""The one multi-armed bandit of evoforge: which model, which kind of proposal, which prompt next.

Why: in an ensemble some models produce improvements far more often per dollar, and some kinds
of proposal pay far more than others; a bandit shifts choices towards them while still
exploring (ShinkaEvolve does the same over models). Its users: the model chooser
(`evoforge.engine.ensemble`), the kind policy (`evoforge.search.kinds`, which mixes the
posterior means with configured weights) and the prompt archive (`evoforge.rsi.prompt_evolution`).
Two policies: ``"ucb1"`` (deterministic given history, good default) and ``"thompson"``
(Beta posteriors, randomised, robust when many workers choose concurrently). Rewards must be
in [0, 1] (e.g. 1 if the child beat its parent). ``decay < 1`` discounts old evidence so the
choice can follow a search whose needs change over time. State is a plain dict for storage.
It lives in `search` because it depends on nothing else in evoforge.
"""
from __future__ import annotations

import math
import threading
import warnings
from collections.abc import Iterable
from typing import Any

METHODS = ("ucb1", "thompson")


class Bandit:
    """Bandit over named arms. Thread-safe; ``choose(rng)`` accepts ``random.Random`` or a
    ``numpy.random.Generator`` so the caller controls reproducibility."""

    def __init__(
        self,
        arms: Iterable[str],
        method: str = "ucb1",
        *,
        c: float = math.sqrt(2.0),
        prior: tuple[float, float] = (1.0, 1.0),
        decay: float = 1.0,
    ) -> None:
        self.arms: list[str] = list(dict.fromkeys(arms))
        if not self.arms:
            raise ValueError("a bandit needs at least one arm")
        if method not in METHODS:
            raise ValueError(f"unknown bandit method {method!r}; choose one of {METHODS}")
        if not 0.0 < decay <= 1.0:
            raise ValueError("decay must be in (0, 1]")
        self.method = method
        self.c = float(c)
        self.prior = (float(prior[0]), float(prior[1]))
        self.decay = float(decay)
        self.counts: dict[str, float] = {a: 0.0 for a in self.arms}
        self.sums: dict[str, float] = {a: 0.0 for a in self.arms}
        self._lock = threading.Lock()
        self._warned: set[str] = set()

    def mean(self, arm: str) -> float:
        """Average reward of an arm (0 before it was tried)."""
        n = self.counts[arm]
        return self.sums[arm] / n if n > 0 else 0.0

    def probabilities(self) -> dict[str, float]:
        """Current posterior means (Thompson) or empirical means (UCB1), for display."""
        a0, b0 = self.prior
        with self._lock:
            if self.method == "thompson":
                return {a: (a0 + self.sums[a]) / (a0 + b0 + self.counts[a]) for a in self.arms}
            return {a: self.mean(a) for a in self.arms}

    def choose(self, rng: Any) -> str:
        """Pick an arm. UCB1 tries every arm once first (in random order)."""
        with self._lock:
            if self.method == "ucb1":
                untried = [a for a in self.arms if self.counts[a] <= 0]
                if untried:
                    return untried[int(rng.random() * len(untried)) % len(untried)]
                total = sum(self.counts.values())
                log_total = math.log(max(total, 1.0))
                best, best_score = self.arms[0], -math.inf
                for a in self.arms:
                    score = self.mean(a) + self.c * math.sqrt(log_total / self.counts[a])
                    score += rng.random() * 1e-9  # random tie-break
                    if score > best_score:
                        best, best_score = a, score
                return best
            a0, b0 = self.prior
            draws = {a: _beta(rng, a0 + self.sums[a], b0 + self.counts[a] - self.sums[a]) for a in self.arms}
            return max(draws, key=draws.__getitem__)

    def update(self, arm: str, reward: float) -> None:
        """Record a reward in [0, 1] (clipped; NaN is rejected). Unknown arms are ignored with
        a warning so a renamed model in a resumed run does not crash it."""
        if arm not in self.counts:
            if arm not in self._warned:
                self._warned.add(arm)
                warnings.warn(f"bandit update for unknown arm {arm!r} ignored (arms: {self.arms})",
                              RuntimeWarning, stacklevel=2)
            return
        reward = float(reward)
        if math.isnan(reward):
            raise ValueError("bandit reward is NaN")
        reward = min(1.0, max(0.0, reward))
        with self._lock:
            if self.decay < 1.0:
                for a in self.arms:
                    self.counts[a] *= self.decay
                    self.sums[a] *= self.decay
            self.counts[arm] += 1.0
            self.sums[arm] += reward

    def state(self) -> dict[str, Any]:
        """JSON-able state, enough to resume exactly."""
        with self._lock:
            return {
                "method": self.method, "c": self.c, "prior": list(self.prior), "decay": self.decay,
                "arms": {a: {"n": self.counts[a], "sum": self.sums[a]} for a in self.arms},
            }

    def restore(self, arms: dict[str, dict[str, float]]) -> None:
        """Set the evidence of this bandit's arms from a saved ``state()["arms"]``; arms it does not
        have are ignored (a run resumed with other models or kinds keeps what still applies)."""
        with self._lock:
            for a, s in arms.items():
                if a in self.counts:
                    self.counts[a] = float(s["n"])
                    self.sums[a] = float(s["sum"])

    @classmethod
    def from_state(cls, d: dict[str, Any]) -> Bandit:
        b = cls(d["arms"].keys(), d.get("method", "ucb1"), c=d.get("c", math.sqrt(2.0)),
                prior=tuple(d.get("prior", (1.0, 1.0))), decay=d.get("decay", 1.0))  # type: ignore[arg-type]
        for a, s in d["arms"].items():
            b.counts[a] = float(s["n"])
            b.sums[a] = float(s["sum"])
        return b


def _beta(rng: Any, a: float, b: float) -> float:
    a, b = max(a, 1e-6), max(b, 1e-6)
    if hasattr(rng, "betavariate"):
        return float(rng.betavariate(a, b))
    return float(rng.beta(a, b))  # numpy Generator
