"""This controller's share of a run that several controllers work on (`search.own_islands`).

Why a part of its own: a shared run differs from a plain one in three places only — which
islands this controller proposes on, the state keys it saves under, and `pull`, which brings in
the best programs of the other controllers' islands (how migration crosses machines) and the
run-wide spending (so the budget is shared). A plain run is the one-controller case: it owns
every island and pulls nothing.
"""
from __future__ import annotations

import time
from collections.abc import Callable

from ..config import Config
from ..program import Attempt
from ..storage.base import Storage
from .budget import Budget


class SharedRun:
    def __init__(self, cfg: Config, storage: Storage, run_id: str, *, maximize: bool) -> None:
        search = cfg.search
        self.own_islands = list(search.own_islands)
        self.islands = search.islands
        self.owned = self.own_islands or list(range(search.islands))
        self.shared = bool(self.own_islands)
        self.interval_s = search.sync_interval_s
        self.storage = storage
        self.run_id = run_id
        self.maximize = maximize
        self.known: set[str] = set()   # ids already in this controller's population (shared runs only)
        self._last_pull = 0.0

    def island_for(self, n: int) -> int:
        """The island of this controller's n-th proposal (round robin over the islands it owns)."""
        return self.owned[n % len(self.owned)]

    def key(self, name: str) -> str:
        """State keys of a controller that owns some islands of a shared run carry their names."""
        return name if not self.shared else f"{name}@islands-{'-'.join(map(str, self.own_islands))}"

    def note(self, attempt_id: str) -> None:
        """An attempt this controller already holds (a plain run keeps no set of every id)."""
        if self.shared:
            self.known.add(attempt_id)

    def pull(self, budget: Budget, on_program: Callable[[Attempt], None], *, force: bool = False) -> None:
        """Bring in the other controllers' best programs (`on_program` adds each) and the run's
        spending so far; at most once per `search.sync_interval_s` unless `force`."""
        now = time.monotonic()
        if not self.shared or (not force and now - self._last_pull < self.interval_s):
            return
        self._last_pull = now
        for island in range(self.islands):
            if island in self.owned:
                continue
            for a in self.storage.best_attempts(self.run_id, 5, maximize=self.maximize, island=island):
                if a.id not in self.known:
                    self.known.add(a.id)
                    on_program(a)
        usage = self.storage.usage_totals(self.run_id)
        budget.sync(llm_calls=int(usage["calls"]), cost=float(usage["cost_usd"]),
                    tokens=int(usage["input_tokens"] + usage["output_tokens"]),
                    proposals=max(0, self.storage.count_attempts(self.run_id) - 1))
        self.storage.set_state(self.run_id, "elapsed_s", budget.elapsed())
