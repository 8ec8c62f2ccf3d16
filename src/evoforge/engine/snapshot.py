"""A stored snapshot of what a resume rebuilds by replaying attempts, so it replays only the
attempts stored after it.

Why: restore replays every stored attempt, in proposal order, into the population (island
archives, MAP-Elites cells, stagnation counters), the result guard's trend and the usage
counters; at 100k attempts that replay and the reading of every row were most of a resume. The
snapshot is that replay's state after the attempt with proposal index `through`, kept in the
run's state store (`set_state`, one JSON value, written in one statement), and restore replays
only the attempts after `through`. The replay's result is the same either way: a snapshot is
only ever the state of the same replay at an earlier point.

When a snapshot may be used (`Snapshot.fits`):
- every attempt with an index up to `through` was stored and finished (not pending) when it was
  taken, so none of them changes again: the writer never goes past an index allocated but not
  yet stored, or past a pending attempt (a kill -9 after an attempt is stored and before the next
  snapshot only means a longer tail to replay);
- the run holds exactly `rows` attempts with an index up to `through` (a shared run's other
  controller may store an attempt late, below `through`: the snapshot is then stale, and restore
  replays everything, as before);
- the population's layout (islands, archive, grid, direction) is the one it was taken with;
- nothing rewrote finished attempts since (`invalidate`: the audit's release, re-evaluation).
"""
from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ..safety import ResultGuard
from ..search.population import Population
from ..storage.base import Storage

FORMAT = 1
KEY = "population_snapshot"   # a shared run's controller keeps its own (SharedRun.key)
EPOCH_KEY = "population_epoch"  # changed by whatever rewrites finished attempts: every snapshot is then stale


def layout_of(population: Population) -> str:
    """What the replay's result depends on besides the attempts."""
    return json.dumps({"islands": len(population.islands), "archive": population.archive.name,
                       "archive_size": population.archive_size, "maximize": population.maximize,
                       "axes": [[a.name, a.low, a.high, a.bins, a.scale] for a in population.axes]})


def status_of(row: Any) -> str:
    """The status of a `RestoreRow` or an `Attempt`."""
    value = getattr(row, "status_value", None)
    return value if value is not None else row.status.value


@dataclass
class Replay:
    """Stored attempts replayed in proposal order: the population, the guard's trend, and the
    counters restore derives from them."""

    population: Population
    guard: ResultGuard
    through: int = -1      # the last proposal index replayed (all attempts up to it)
    rows: int = 0          # attempts with an index up to `through` (all statuses)
    next_index: int = 0
    proposals: int = 0     # finished attempts other than the initial program
    operators: int = 0     # of which zero-cost operator proposals (no model)

    def add(self, row: Any) -> None:
        """One finished attempt (the caller skips pending ones)."""
        self.population.add(row)
        if status_of(row) == "ok" and row.score is not None:
            self.guard.observe_trusted(row.score)
        if row.mutation != "initial":
            self.proposals += 1
            self.operators += row.model is None

    def replay(self, rows: Iterable[Any], through: int) -> None:
        """Add `rows` (in proposal order, none pending) up to index `through`; later rows are left."""
        for row in rows:
            if row.proposal_index > through:
                break
            self.add(row)
            self.rows += 1
            self.next_index = max(self.next_index, row.proposal_index + 1)
        self.through = max(self.through, through)

    def state(self, epoch: str | None) -> dict[str, Any]:
        return {"format": FORMAT, "layout": layout_of(self.population), "epoch": epoch, "through": self.through,
                "rows": self.rows, "next_index": self.next_index, "proposals": self.proposals,
                "operators": self.operators, "population": self.population.snapshot(),
                "guard": {"best": self.guard.best_fitness, "gains": list(self.guard.gains)}}

    def load(self, state: dict[str, Any]) -> None:
        self.population.restore_snapshot(state["population"])
        self.guard.best_fitness = state["guard"]["best"]
        self.guard.gains = [float(g) for g in state["guard"]["gains"]]
        for name in ("through", "rows", "next_index", "proposals", "operators"):
            setattr(self, name, int(state[name]))


@dataclass
class Snapshot:
    """A stored replay state, as read back."""

    state: dict[str, Any]

    @property
    def through(self) -> int:
        return int(self.state["through"])

    def fits(self, population: Population, epoch: str | None, rows_through: int) -> bool:
        """Whether the snapshot is this run's replay up to `through` (see the module notes);
        `rows_through`: how many attempts the run holds with an index up to `through` now."""
        s = self.state
        return (s.get("format") == FORMAT and s.get("layout") == layout_of(population) and s.get("epoch") == epoch
                and int(s["rows"]) == rows_through)


def read(storage: Storage, run_id: str, key: str) -> Snapshot | None:
    state = storage.get_state(run_id, key)
    return Snapshot(state) if isinstance(state, dict) and state.get("format") == FORMAT else None


def epoch(storage: Storage, run_id: str) -> str | None:
    value = storage.get_state(run_id, EPOCH_KEY)
    return None if value is None else str(value)


def write(storage: Storage, run_id: str, key: str, replay: Replay, epoch_seen: str | None) -> None:
    """Store the replay's state; `epoch_seen` is the epoch read *before* the rows were read, so
    a rewrite of finished attempts in between makes this snapshot stale, not wrong."""
    storage.set_state(run_id, key, replay.state(epoch_seen))


def invalidate(storage: Storage, run_id: str) -> None:
    """Make every snapshot of the run stale: call after rewriting a finished attempt's status,
    score or metrics (the next resume replays everything once and takes a new snapshot)."""
    storage.set_state(run_id, EPOCH_KEY, uuid.uuid4().hex)


def safe_through(rows: Iterable[Any], ceiling: int) -> int:
    """The last index a snapshot may cover, given the stored `rows` after the current snapshot (in
    proposal order) and `ceiling` (no index above it is sure to be stored): below the first pending
    attempt, and no further than the rows read."""
    last = -1
    for row in rows:
        if row.proposal_index > ceiling or status_of(row) == "pending":
            return min(ceiling, row.proposal_index - 1)
        last = row.proposal_index
    return min(ceiling, last)


def advance(storage: Storage, run_id: str, key: str, replay: Replay, ceiling: int) -> bool:
    """Take the next snapshot: the stored one (`key`) plus the finished attempts after it, up to
    `ceiling` and below the first pending one, replayed into `replay` (empty, of the run's layout).
    True when a snapshot was stored. The stored one is the writer's own, so every row it covers
    was final when it was taken and is trusted without counting (a resume counts)."""
    epoch_seen = epoch(storage, run_id)
    base = read(storage, run_id, key)
    if base is not None and base.fits(replay.population, epoch_seen, int(base.state["rows"])):
        replay.load(base.state)
    if replay.through >= ceiling:
        return False
    rows: list[Any] = storage.restore_rows(run_id) if replay.through < 0 else \
        storage.attempts(run_id, since_index=replay.through + 1, with_code=False)
    through = safe_through(rows, ceiling)
    if through <= replay.through:
        return False
    replay.replay(rows, through)
    write(storage, run_id, key, replay, epoch_seen)
    return True
