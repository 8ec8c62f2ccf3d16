"""The storage conformance suite: every backend must pass the same tests.

Backends are listed in `storage_urls`; PostgreSQL joins when its server fixture is available."""
from __future__ import annotations

import math
import threading

import pytest

from evoforge.errors import StorageError
from evoforge.program import Attempt, AttemptStatus, LLMCallRecord
from evoforge.storage import open_storage


@pytest.fixture(params=["sqlite"])
def storage(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'run.db'}"
    s = open_storage(url)
    yield s
    s.close()


def _attempt(run_id, i, score=None, status=AttemptStatus.OK, **kw):
    return Attempt(run_id=run_id, code=f"x = {i}\n", status=status, score=score, proposal_index=i, **kw)


def test_runs_roundtrip(storage):
    info = storage.create_run("r1", {"a": 1}, "/tmp/task", meta={"m": 2})
    got = storage.get_run("r1")
    assert got.id == info.id and got.config == {"a": 1} and got.meta == {"m": 2}
    assert storage.get_run(info.id).name == "r1"
    assert [r.name for r in storage.list_runs()] == ["r1"]
    with pytest.raises(StorageError, match="already exists"):
        storage.create_run("r1", {}, "/tmp")
    storage.update_run_meta(info.id, {"x": True})
    assert storage.get_run("r1").meta == {"x": True}


def test_attempt_roundtrip_keeps_everything(storage):
    run = storage.create_run("r", {}, "/t")
    a = _attempt(run.id, 3, 1.5, parent_id="p", inspiration_ids=["i1", "i2"], island=1, generation=2,
                 mutation="diff", model="m", metrics={"k": 1.0, "s": "text"}, feedback="fb", prompt="P", response="R",
                 stdout="out", stderr="err", input_tokens=10, output_tokens=20)
    storage.save_attempt(a)
    b = storage.get_attempt(a.id)
    assert b.to_dict() == a.to_dict()
    assert storage.get_attempt(a.id[:8]).id == a.id  # unique prefix
    assert storage.get_attempt("nope") is None


def test_failed_attempts_are_kept_with_reason(storage):
    run = storage.create_run("r", {}, "/t")
    storage.save_attempt(Attempt(run_id=run.id, code=None, status=AttemptStatus.PARSE_FAILED, reason="no edit", proposal_index=1))
    rows = storage.attempts(run.id)
    assert rows[0].status is AttemptStatus.PARSE_FAILED and rows[0].reason == "no edit" and rows[0].code is None
    assert storage.count_attempts(run.id, AttemptStatus.PARSE_FAILED) == 1


def test_non_finite_scores_never_stored_as_scores(storage):
    run = storage.create_run("r", {}, "/t")
    a = _attempt(run.id, 1, float("nan"), metrics={"bad": float("inf")})
    storage.save_attempt(a)
    b = storage.get_attempt(a.id)
    assert b.score is None


def test_best_and_filters(storage):
    run = storage.create_run("r", {}, "/t")
    for i, s in enumerate([1.0, 3.0, 2.0]):
        storage.save_attempt(_attempt(run.id, i, s, island=i % 2))
    storage.save_attempt(_attempt(run.id, 9, None, status=AttemptStatus.ERROR))
    assert [a.score for a in storage.best_attempts(run.id, 2)] == [3.0, 2.0]
    assert storage.best_attempts(run.id, 1, maximize=False)[0].score == 1.0
    assert storage.best_attempts(run.id, 5, island=0)[0].score == 2.0
    assert storage.count_attempts(run.id) == 4
    assert len(storage.attempts(run.id, status=AttemptStatus.OK)) == 3
    light = storage.attempts(run.id, with_code=False)
    assert all(a.code is None for a in light) and len(light) == 4
    assert [a.proposal_index for a in storage.attempts(run.id, since_index=2)] == [2, 9]


def test_find_by_hash(storage):
    run = storage.create_run("r", {}, "/t")
    a = _attempt(run.id, 1, 1.0)
    storage.save_attempt(a)
    assert storage.find_by_hash(run.id, a.code_hash).id == a.id
    assert storage.find_by_hash(run.id, "0" * 32) is None


def test_llm_usage_totals(storage):
    run = storage.create_run("r", {}, "/t")
    storage.add_llm_call(LLMCallRecord(run_id=run.id, model="m", input_tokens=5, output_tokens=7, cost_usd=0.5))
    storage.add_llm_call(LLMCallRecord(run_id=run.id, model="m", error="rate_limit"))
    t = storage.usage_totals(run.id)
    assert t["calls"] == 2 and t["input_tokens"] == 5 and t["output_tokens"] == 7 and math.isclose(t["cost_usd"], 0.5)
    assert [c.error for c in storage.llm_calls(run.id)] == ["", "rate_limit"]


def test_state_and_events(storage):
    run = storage.create_run("r", {}, "/t")
    assert storage.get_state(run.id, "k", 7) == 7
    storage.set_state(run.id, "k", {"a": [1, 2]})
    assert storage.get_state(run.id, "k") == {"a": [1, 2]}
    storage.add_event(run.id, "new_best", {"score": 1})
    storage.add_event(run.id, "other", {})
    assert [e["kind"] for e in storage.events(run.id)] == ["new_best", "other"]
    assert storage.events(run.id, "new_best")[0]["payload"] == {"score": 1}


def test_concurrent_writers(storage):
    run = storage.create_run("r", {}, "/t")

    def write(base):
        for i in range(25):
            storage.save_attempt(_attempt(run.id, base + i, float(i)))

    threads = [threading.Thread(target=write, args=(k * 100,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert storage.count_attempts(run.id) == 100


def test_runs_are_separate(storage):
    r1 = storage.create_run("a", {}, "/t")
    r2 = storage.create_run("b", {}, "/t")
    storage.save_attempt(_attempt(r1.id, 1, 1.0))
    assert storage.count_attempts(r2.id) == 0 and storage.best_attempts(r2.id) == []
