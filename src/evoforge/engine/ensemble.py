"""Choosing a model from the ensemble for each proposal.

A bandit (Thompson sampling or UCB1, `evoforge.search.bandit`: the same one the kind policy uses) learns which model's children
improve on their parents, optionally per dollar; ``fixed`` keeps the configured weights. Prior
weights bias the choice in every mode. The state is saved in storage with the rest of the run
and restored on resume.
"""
from __future__ import annotations

import random
import threading
from typing import Any

from ..search.bandit import Bandit


class ModelChooser:
    def __init__(self, models: list[str], llm_cfg: Any) -> None:
        self.models = list(models)
        self.weights = {m: float(llm_cfg.model_weights.get(m, 1.0)) for m in self.models}
        self.mode = llm_cfg.model_selection
        self.reward_per_cost = llm_cfg.reward_per_cost
        self.bandit = None if self.mode == "fixed" else Bandit(self.models, self.mode)
        self._cost: dict[str, list[float]] = {m: [0.0, 0.0] for m in self.models}  # total cost, calls
        self._lock = threading.Lock()

    def choose(self, rng: random.Random) -> str:
        enabled = [m for m in self.models if self.weights[m] > 0] or self.models
        if self.bandit is None:
            return rng.choices(enabled, weights=[self.weights[m] for m in enabled], k=1)[0]
        probs = self.bandit.probabilities()
        mixed = [max(probs.get(m, 0.0), 1e-6) * self.weights[m] for m in enabled]
        return rng.choices(enabled, weights=mixed, k=1)[0]

    def record_cost(self, model: str, cost: float) -> None:
        with self._lock:
            c = self._cost.setdefault(model, [0.0, 0.0])
            c[0] += cost
            c[1] += 1

    def update(self, model: str, reward: float) -> None:
        if self.bandit is None or model not in self.weights:
            return
        if self.reward_per_cost:
            with self._lock:
                total, calls = self._cost.get(model, [0.0, 0.0])
            mean_cost = total / calls if calls else 0.0
            all_costs = [t / n for t, n in self._cost.values() if n]
            scale = max(all_costs) if all_costs and max(all_costs) > 0 else 1.0
            reward = reward / (1.0 + 4.0 * mean_cost / scale)   # the costliest model earns a fifth per improvement
        self.bandit.update(model, max(0.0, min(1.0, reward)))

    def state(self) -> dict[str, Any]:
        return {"bandit": self.bandit.state() if self.bandit else None, "cost": self._cost}

    def load_state(self, state: dict[str, Any] | None) -> None:
        if not state:
            return
        if self.bandit is not None and state.get("bandit"):
            self.bandit.restore(state["bandit"]["arms"])
        for m, c in (state.get("cost") or {}).items():
            if m in self._cost:
                self._cost[m] = list(c)
