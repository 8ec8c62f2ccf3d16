"""Choosing the kind of the next proposal (the kinds themselves live in evoforge.mutate.kinds),
by configured weights adapted by what each kind earns.

Rewards are per proposal: 1 for a child better than its parent, a little for a valid child, 0 for
a failure. What each kind has earned is kept by the one bandit of evoforge (`search.bandit`, with
Beta(1, 1) priors); a kind's chance is its configured weight times its posterior mean reward, with a
floor so that no enabled kind is ever starved (the world changes as the population improves).
The saved state keeps the format runs have always stored (trials, reward, improvements, valid per
kind), which the dashboard reads and which a resumed run loads.
"""
from __future__ import annotations

import random
import threading
from typing import Any

from .bandit import Bandit

VALID_REWARD = 0.15   # what a valid child that did not improve on its parent earns
COUNTERS = ("trials", "reward", "improvements", "valid")


class KindPolicy:
    """Adaptive weighted choice over proposal kinds."""

    def __init__(self, weights: dict[str, float], adaptive: bool = True, floor: float = 0.1) -> None:
        self.weights = {k: float(w) for k, w in weights.items() if w > 0}
        self.adaptive = adaptive
        self.floor = floor
        # thompson: its posterior means are (1 + reward) / (2 + trials), the Beta(1, 1) means
        self.bandit = Bandit(self.weights, "thompson") if self.weights else None
        self._outcomes = {k: {"improvements": 0, "valid": 0} for k in self.weights}
        self._lock = threading.Lock()

    @property
    def stats(self) -> dict[str, dict[str, Any]]:
        """Per kind: trials, reward, improvements, valid (the saved state)."""
        return self.state()

    def probabilities(self, allowed: set[str] | None = None) -> dict[str, float]:
        kinds = [k for k in self.weights if allowed is None or k in allowed]
        if not kinds or self.bandit is None:
            return {}
        means = self.bandit.probabilities() if self.adaptive else {}
        raw = {k: self.weights[k] * means.get(k, 0.5) for k in kinds}
        total = sum(raw.values())
        base = {k: v / total for k, v in raw.items()}
        wsum = sum(self.weights[k] for k in kinds)
        # mix with the configured prior so that every kind keeps at least floor * its prior share
        return {k: (1 - self.floor) * base[k] + self.floor * self.weights[k] / wsum for k in kinds}

    def choose(self, rng: random.Random, allowed: set[str] | None = None) -> str | None:
        probs = self.probabilities(allowed)
        if not probs:
            return None
        kinds = list(probs)
        return rng.choices(kinds, weights=[probs[k] for k in kinds], k=1)[0]

    def update(self, kind: str, *, valid: bool, improved: bool) -> None:
        with self._lock:
            counts = self._outcomes.get(kind)
            if counts is None or self.bandit is None:
                return
            self.bandit.update(kind, 1.0 if improved else (VALID_REWARD if valid else 0.0))
            counts["valid"] += int(valid)
            counts["improvements"] += int(improved)

    def state(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self.bandit is None:
                return {}
            arms = self.bandit.state()["arms"]
            return {k: {"trials": int(arms[k]["n"]), "reward": arms[k]["sum"], **counts}
                    for k, counts in self._outcomes.items()}

    def load_state(self, state: dict[str, dict[str, float]] | None) -> None:
        """Load a saved state (a kind this run does not use is ignored; a missing counter is 0)."""
        with self._lock:
            for k, v in (state or {}).items():
                if k not in self._outcomes or self.bandit is None:
                    continue
                v = {f: v.get(f, 0) for f in COUNTERS}
                self.bandit.restore({k: {"n": v["trials"], "sum": v["reward"]}})
                self._outcomes[k] = {"improvements": v["improvements"], "valid": v["valid"]}
