"""A resume from a stored population snapshot (engine/snapshot.py) is the resume that replays
every stored attempt: the same islands, grids, counters, guard trend, pending work and
near-duplicate index, and then the same decisions. Real runs on real SQLite files: each is copied,
and the copies are restored both ways."""
from __future__ import annotations

import random
import shutil
from pathlib import Path
from typing import Any

import pytest

from evoforge.cli import main
from evoforge.engine import snapshot
from evoforge.engine.core import Engine
from evoforge.program import Attempt, AttemptStatus
from evoforge.sandbox import Evaluation, Result
from evoforge.storage import open_storage
from evoforge.task import load_task

OVERRIDES: dict[str, Any] = {
    "mutation.weights": {"perturb": 0.7, "swap": 0.15, "duplicate": 0.15}, "budget.llm_calls": None,
    "budget.proposals": None, "evaluator.workers": 1, "search.islands": 3, "search.archive_size": 6,
    "search.migration_interval": 7, "search.stagnation_limit": 15,
    "search.map_elites": [{"name": "code_length", "min": 100, "max": 400, "bins": 5}],
}


def _evaluation(index: int) -> Evaluation:
    """Deterministic by proposal index: mostly scored programs, some failures."""
    r = random.Random(index)
    roll = r.random()
    if roll < 0.12:
        return Evaluation("error", reason="synthetic failure")
    if roll < 0.18:
        return Evaluation("invalid", reason="synthetic invalid", result=Result.invalid("no"))
    return Evaluation("ok", result=Result(score=round(r.uniform(0, 100), 3), feedback="synthetic"))


def _open(task_dir: Path, db: Path, overrides: dict[str, Any] | None = None, **kwargs: Any) -> Engine:
    task = load_task(task_dir, {**OVERRIDES, **(overrides or {})})
    store = open_storage(f"sqlite:///{db}")
    runs = store.list_runs()
    run = runs[0] if runs else store.create_run("r", task.config.to_dict(), str(task.path))
    return Engine(task, store, run, {}, **kwargs)


def _drive(engine: Engine, n: int, *, leave_pending: int = 0) -> list[Any]:
    """n proposals told at once, then `leave_pending` asked and never told (a kill -9 now)."""
    made = []
    for _ in range(n):
        p = engine.ask()
        assert p is not None, engine.stop_reason
        if p.needs_evaluation:
            engine.tell(p, _evaluation(p.attempt.proposal_index))
        made.append(p.attempt)
    for _ in range(leave_pending):
        p = engine.ask()
        assert p is not None and p.needs_evaluation
    return made


def _state(engine: Engine) -> dict[str, Any]:
    pop = engine.population
    members = {m.id for i in pop.islands for m in i.members.values()}
    return {
        "islands": [([(m.id, m.fitness, m.island, m.generation, m.children, m.cell) for m in i.members.values()],
                     list(i.grid.items()), i.best_fitness, i.proposals_since_improvement, i.floor) for i in pop.islands],
        "broken": list(pop.broken),
        "children of members": {k: v for k, v in pop.children.items() if k in members},
        "guard": (engine.guard.best_fitness, list(engine.guard.gains)),
        "next": engine._next_index, "pending": [a.id for a in engine._pending],
        "usage": (engine.budget.usage.proposals, engine.budget.usage.operator_proposals, engine.budget.usage.llm_calls),
        "best": engine.best.id if engine.best else None, "known": sorted(engine.share.known),
        "lsh": engine.novelty.program_ids(),
    }


def _decisions(engine: Engine, n: int) -> list[tuple[Any, ...]]:
    """What the next n proposals do, new ids named by their order (they are random uuids)."""
    names: dict[str, str] = {}
    out = []
    for attempt in _drive(engine, n):
        names[attempt.id] = f"new{len(names)}"
        out.append((names.get(attempt.parent_id or "", attempt.parent_id), attempt.island, attempt.mutation,
                    attempt.code, attempt.status.value, attempt.proposal_index))
    return out


def _copy(db: Path, to: Path) -> Path:
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(db, to)
    return to


@pytest.fixture
def stored_run(value_task, tmp_path, monkeypatch) -> Path:
    """A run of 260 proposals with snapshots every 40 finished attempts, stopped as by kill -9
    (no save_state) with attempts told after the last snapshot and three left pending."""
    monkeypatch.setattr(Engine, "CHECKPOINT_EVERY", 40)
    db = tmp_path / "run" / "run.db"
    db.parent.mkdir()
    engine = _open(value_task, db)
    _drive(engine, 260, leave_pending=3)
    engine.storage.close()
    return db


def test_snapshot_resume_equals_full_replay_and_decides_the_same(value_task, stored_run, tmp_path):
    a = _open(value_task, _copy(stored_run, tmp_path / "a" / "run.db"), restore_snapshot=False)
    b = _open(value_task, _copy(stored_run, tmp_path / "b" / "run.db"))
    total = a.storage.count_attempts(a.run.id)
    assert a.restored.snapshot_through is None and a.restored.replayed == total
    # the snapshot covers the attempts before the first one still pending; after it: the told ones
    assert b.restored.snapshot_through is not None and 0 < b.restored.replayed < 60
    assert b.novelty.deferred and not a.novelty.deferred
    assert len(b._pending) == 3
    assert any(isl.grid for isl in b.population.islands)
    assert _state(a) == _state(b)
    assert _decisions(a, 60) == _decisions(b, 60)
    shape = lambda e: [[m[1:] for m in isl[0]] for isl in _state(e)["islands"]]  # noqa: E731  (new ids differ)
    assert shape(a) == shape(b)


def test_programs_told_before_the_index_is_read_go_after_the_stored_ones(value_task, stored_run, tmp_path):
    a = _open(value_task, _copy(stored_run, tmp_path / "a" / "run.db"), restore_snapshot=False)
    b = _open(value_task, _copy(stored_run, tmp_path / "b" / "run.db"))
    assert b.novelty.deferred
    _drive(a, 30)
    _drive(b, 30)   # operators never read the index: these programs wait for it
    assert b.novelty.deferred
    ids_a, ids_b = a.novelty.program_ids(), b.novelty.program_ids()
    stored = [x for x in ids_a if x in set(ids_b)]
    assert len(ids_a) == len(ids_b) and stored[: len(ids_a) - 30] == ids_b[: len(ids_a) - 30]
    assert not b.novelty.deferred
    code = a.storage.get_attempt(ids_a[5]).code
    assert a.novelty.most_similar(code)[1] == b.novelty.most_similar(code)[1] == 1.0


def test_a_late_attempt_below_the_snapshot_makes_it_stale(value_task, stored_run, tmp_path):
    """A shared run's other controller may store an attempt late, with an index the snapshot
    covers: the snapshot no longer is the replay, so the resume replays everything."""
    db = _copy(stored_run, tmp_path / "b" / "run.db")
    store = open_storage(f"sqlite:///{db}")
    run = store.list_runs()[0]
    through = snapshot.read(store, run.id, snapshot.KEY).through
    late = Attempt(run_id=run.id, code="def value():\n    return 1e9\n", status=AttemptStatus.OK, score=1e9,
                   island=1, mutation="perturb", proposal_index=through - 5)
    store.save_attempt(late)
    store.close()
    reference = _open(value_task, _copy(db, tmp_path / "a" / "run.db"), restore_snapshot=False)
    b = _open(value_task, db)
    assert b.restored.snapshot_through is None
    assert late.id in {m.id for i in b.population.islands for m in i.members.values()}
    assert _state(reference) == _state(b)


def test_a_rewrite_of_finished_attempts_or_another_layout_is_not_restored_from_the_snapshot(value_task, stored_run,
                                                                                            tmp_path):
    db = _copy(stored_run, tmp_path / "b" / "run.db")
    store = open_storage(f"sqlite:///{db}")
    run = store.list_runs()[0]
    snapshot.invalidate(store, run.id)   # what the audit's release and re-evaluation call
    store.close()
    b = _open(value_task, db)
    assert b.restored.snapshot_through is None   # replayed everything, and stored a new one
    b.storage.close()
    again = _open(value_task, db)
    assert again.restored.snapshot_through is not None
    again.storage.close()
    for overrides in ({"search.archive_size": 9}, {"search.islands": 4},
                      {"search.map_elites": [{"name": "code_length", "min": 100, "max": 400, "bins": 6}]}):
        wider = _open(value_task, _copy(stored_run, tmp_path / "c" / "run.db"), overrides)
        reference = _open(value_task, _copy(stored_run, tmp_path / "d" / "run.db"), overrides, restore_snapshot=False)
        assert wider.restored.snapshot_through is None
        assert _state(wider) == _state(reference)


def test_audit_release_makes_the_snapshot_stale(value_task, tmp_path):
    """The audit's release turns a quarantined attempt into a program: a resume must see it."""
    db = tmp_path / "run" / "run.db"
    db.parent.mkdir()
    engine = _open(value_task, db)
    _drive(engine, 20)
    store, run = engine.storage, engine.run
    held = Attempt(run_id=run.id, code="def value():\n    return 7e5\n", status=AttemptStatus.QUARANTINED,
                   score=7e5, island=0, mutation="perturb", proposal_index=store.allocate_index(run.id),
                   metrics={"quarantined_score": 7e5})
    store.save_attempt(held)
    store.close()
    _open(value_task, db).storage.close()   # a resume stores a snapshot that covers it
    store = open_storage(f"sqlite:///{db}")
    assert snapshot.read(store, run.id, snapshot.KEY).through >= held.proposal_index
    store.close()
    assert main(["audit", str(db.parent), "--release", held.id]) == 0
    b = _open(value_task, db)
    assert b.restored.snapshot_through is None
    assert b.best is not None and b.best.id == held.id
    assert held.id in {m.id for i in b.population.islands for m in i.members.values()}


def test_shared_run_controllers_restore_their_snapshots(value_task, tmp_path, monkeypatch):
    """Two controllers on one database, each with its own islands, take their own snapshots while
    they run; each resumes from its snapshot to the state of a full replay."""
    monkeypatch.setattr(Engine, "CHECKPOINT_EVERY", 10)
    db = tmp_path / "run" / "run.db"
    db.parent.mkdir()
    own = [{"search.own_islands": [0, 1]}, {"search.own_islands": [2]}]
    first = _open(value_task, db, own[0])
    second = _open(value_task, db, own[1])
    for _ in range(8):
        _drive(first, 12)
        _drive(second, 12)
    first.checkpoint(), second.checkpoint()
    first.storage.close(), second.storage.close()
    for i, overrides in enumerate(own):
        copy = _copy(db, tmp_path / f"s{i}" / "run.db")
        reference = _open(value_task, _copy(db, tmp_path / f"f{i}" / "run.db"), overrides, restore_snapshot=False)
        restored = _open(value_task, copy, overrides)
        assert restored.restored.snapshot_through is not None
        assert restored.restored.replayed < reference.restored.replayed
        assert _state(restored) == _state(reference)
