"""Choosing the kind of the next proposal (the kinds themselves live in evoforge.mutate.kinds),
by configured weights adapted by what each kind earns.

Rewards are per proposal: 1 for a child better than its parent, a little for a valid child, 0 for
a failure. A kind's chance is its configured weight times its posterior mean reward, with a
floor so that no enabled kind is ever starved (the world changes as the population improves).
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass

@dataclass
class KindStats:
    trials: int = 0
    reward: float = 0.0
    improvements: int = 0
    valid: int = 0


class KindPolicy:
    """Adaptive weighted choice over proposal kinds."""

    def __init__(self, weights: dict[str, float], adaptive: bool = True, floor: float = 0.1) -> None:
        self.weights = {k: float(w) for k, w in weights.items() if w > 0}
        self.adaptive = adaptive
        self.floor = floor
        self.stats = {k: KindStats() for k in self.weights}
        self._lock = threading.Lock()

    def probabilities(self, allowed: set[str] | None = None) -> dict[str, float]:
        with self._lock:
            kinds = [k for k in self.weights if allowed is None or k in allowed]
            if not kinds:
                return {}
            raw = {}
            for k in kinds:
                s = self.stats[k]
                mean = (1.0 + s.reward) / (2.0 + s.trials) if self.adaptive else 0.5
                raw[k] = self.weights[k] * mean
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
            s = self.stats.get(kind)
            if s is None:
                return
            s.trials += 1
            s.valid += int(valid)
            s.improvements += int(improved)
            s.reward += 1.0 if improved else (0.15 if valid else 0.0)

    def state(self) -> dict[str, dict[str, float]]:
        with self._lock:
            return {k: vars(s).copy() for k, s in self.stats.items()}

    def load_state(self, state: dict[str, dict[str, float]] | None) -> None:
        for k, v in (state or {}).items():
            if k in self.stats:
                self.stats[k] = KindStats(**{f: v.get(f, 0) for f in ("trials", "reward", "improvements", "valid")})
