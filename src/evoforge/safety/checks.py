"""Checks on every result before it can influence the search: declared bounds, sudden jumps far
beyond the trend (quarantined for audit instead of crowned), and a public/private gap that grows
(an overfitting alert). Non-finite scores never get this far: the evaluator host rejects them.
"""
from __future__ import annotations

import statistics
import threading
from dataclasses import dataclass

from ..config import Config


@dataclass
class Verdict:
    """What the guard decided about one scored program."""

    status: str = "ok"        # ok | invalid | quarantined
    reason: str = ""
    alert: str = ""           # an overfitting alert to record (the program stays ok)


class ResultGuard:
    """Stateful: it learns the run's typical gains to judge whether a new gain is plausible."""

    def __init__(self, config: Config) -> None:
        self.cfg = config
        self.maximize = config.direction == "maximize"
        self.best_fitness: float | None = None
        self.gains: list[float] = []
        self.alerted_gap = 0.0
        self._lock = threading.Lock()

    def fitness(self, score: float) -> float:
        return score if self.maximize else -score

    def observe_trusted(self, score: float) -> None:
        """Seed the trend with a score known to be fine (the initial program, a resumed run)."""
        with self._lock:
            f = self.fitness(score)
            if self.best_fitness is None or f > self.best_fitness:
                if self.best_fitness is not None:
                    self.gains.append(f - self.best_fitness)
                self.best_fitness = f

    def judge(self, score: float, private_score: float | None = None, *, initial: bool = False) -> Verdict:
        low, high = (list(self.cfg.evaluator.score_bounds) + [None, None])[:2]
        if low is not None and score < low:
            return Verdict("invalid", f"score {score:.10g} is below the task's declared lower bound {low}")
        if high is not None and score > high:
            return Verdict("invalid", f"score {score:.10g} is above the task's declared upper bound {high}")
        verdict = Verdict()
        with self._lock:
            f = self.fitness(score)
            if self.best_fitness is not None and f > self.best_fitness:
                gain = f - self.best_fitness
                if (not initial and self.cfg.safety.quarantine_jumps and len(self.gains) >= self.cfg.safety.min_history):
                    typical = statistics.median(self.gains)
                    if typical > 0 and gain > self.cfg.safety.jump_factor * typical:
                        return Verdict("quarantined", f"gain {gain:.6g} is {gain / typical:.0f}x the run's typical gain "
                                                      f"{typical:.3g}: held for audit (evoforge audit RUN)")
                self.gains.append(gain)
                self.best_fitness = f
            elif self.best_fitness is None:
                self.best_fitness = f
            if private_score is not None:
                gap = self.fitness(score) - self.fitness(private_score)
                rel = gap / max(abs(score), 1e-12)
                if rel > self.cfg.safety.overfit_gap and rel > self.alerted_gap * 1.5:
                    self.alerted_gap = rel
                    verdict.alert = (f"public score {score:.6g} vs private {private_score:.6g}: a gap of {100 * rel:.0f}% "
                                     "suggests overfitting to the public cases")
        return verdict
