"""The storage conformance suite: every backend must pass the same tests.

Backends are the `storage` fixture's params; PostgreSQL runs against a real server started by
tests/storage/pg_server.py (skipped, saying why, only when its binaries are absent)."""
from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import threading

import pytest

from evoforge.errors import StorageError
from evoforge.program import Attempt, AttemptStatus, LLMCallRecord
from evoforge.storage import open_storage


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'run.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
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


def test_saving_again_updates_in_place(storage):
    run = storage.create_run("r", {}, "/t")
    a = _attempt(run.id, 1, None, status=AttemptStatus.PENDING)
    storage.save_attempt(a)
    a.status, a.score, a.feedback = AttemptStatus.OK, 2.0, "done"
    storage.save_attempt(a)
    assert storage.count_attempts(run.id) == 1
    b = storage.get_attempt(a.id)
    assert b.status is AttemptStatus.OK and b.score == 2.0 and b.feedback == "done"
    storage.set_state(run.id, "k", 1)
    storage.set_state(run.id, "k", 2)
    assert storage.get_state(run.id, "k") == 2


def test_find_by_hash_ignores_pending_and_duplicates(storage):
    run = storage.create_run("r", {}, "/t")
    pending = _attempt(run.id, 1, None, status=AttemptStatus.PENDING)
    dup = _attempt(run.id, 1, None, status=AttemptStatus.DUPLICATE)
    storage.save_attempt(pending)
    storage.save_attempt(dup)
    assert storage.find_by_hash(run.id, pending.code_hash) is None
    failed = Attempt(run_id=run.id, code=pending.code, status=AttemptStatus.ERROR, proposal_index=5)
    storage.save_attempt(failed)
    assert storage.find_by_hash(run.id, pending.code_hash).id == failed.id


def test_ambiguous_prefix_finds_nothing(storage):
    run = storage.create_run("r", {}, "/t")
    for suffix in ("a", "b"):
        storage.save_attempt(Attempt(run_id=run.id, code="x", id="abcd" + suffix * 12, status=AttemptStatus.OK))
    assert storage.get_attempt("abcd") is None
    assert storage.get_attempt("abcdb").id == "abcd" + "b" * 12
    assert storage.get_attempt("%") is None


def test_odd_text_survives(storage):
    """Candidate output may hold NUL bytes (PostgreSQL TEXT cannot: they become U+FFFD),
    non-ASCII text and very long lines; a write must never fail because of them."""
    run = storage.create_run("r", {"é": "✓"}, "/t")
    a = _attempt(run.id, 1, 1.0, stdout="a\x00b ünïcödé ✓", stderr="x" * 200_000, metrics={"nan": float("nan")})
    storage.save_attempt(a)
    b = storage.get_attempt(a.id)
    assert b.stdout.replace("\ufffd", "\x00") == a.stdout and len(b.stderr) == 200_000
    assert storage.get_run("r").config == {"é": "✓"}
    assert b.metrics["nan"] != b.metrics["nan"] or b.metrics["nan"] in ("nan", "NaN")


def test_read_only_handle_reads_but_refuses_writes(storage):
    run = storage.create_run("r", {}, "/t")
    storage.save_attempt(_attempt(run.id, 1, 1.0))
    ro = open_storage(storage.url, read_only=True)
    try:
        assert ro.get_run("r").id == run.id and ro.count_attempts(run.id) == 1
        with pytest.raises(StorageError, match="read-only"):
            ro.save_attempt(_attempt(run.id, 2, 2.0))
        with pytest.raises(StorageError, match="read-only"):
            ro.set_state(run.id, "k", 1)
    finally:
        ro.close()


def test_second_handle_sees_every_write(storage):
    run = storage.create_run("r", {}, "/t")
    other = open_storage(storage.url)
    try:
        other.save_attempt(_attempt(run.id, 1, 5.0))
        other.add_event(run.id, "x", {})
        assert storage.best_attempts(run.id)[0].score == 5.0 and len(storage.events(run.id)) == 1
        with pytest.raises(StorageError, match="already exists"):
            other.create_run("r", {}, "/t")
    finally:
        other.close()


WRITER = textwrap.dedent('''
    import sys
    from evoforge.program import Attempt, AttemptStatus, LLMCallRecord
    from evoforge.storage import open_storage
    url, run_id, base = sys.argv[1], sys.argv[2], int(sys.argv[3])
    s = open_storage(url)
    for i in range(40):
        s.save_attempt(Attempt(run_id=run_id, code=f"x = {base + i}", status=AttemptStatus.OK, score=float(i),
                               proposal_index=base + i))
        s.add_llm_call(LLMCallRecord(run_id=run_id, model="m", input_tokens=1))
        s.set_state(run_id, "shared", base + i)
        s.add_event(run_id, "tick", {"i": base + i})
    s.close()
''')


def test_several_processes_write_one_run(storage):
    """Several controller processes share one run: no write is lost, none fails."""
    run = storage.create_run("r", {}, "/t")
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, storage.url, run.id, str(k * 1000)],
                              stderr=subprocess.PIPE, text=True) for k in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    assert storage.count_attempts(run.id) == 120
    assert storage.usage_totals(run.id)["input_tokens"] == 120
    assert len(storage.events(run.id, "tick")) == 120
    assert storage.get_state(run.id, "shared") in {39, 1039, 2039}


# -- PostgreSQL specifics -------------------------------------------------------------------

def test_postgres_schema_version_and_reopen(postgres_url):
    import sqlalchemy as sa

    from evoforge.storage.migrations import SCHEMA_VERSION

    first = open_storage(postgres_url)
    run = first.create_run("r", {}, "/t")
    first.close()
    again = open_storage(postgres_url)  # migrations are idempotent
    assert again.get_run("r").id == run.id
    again.close()
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:
        assert conn.execute(sa.text("SELECT value FROM meta WHERE key='schema_version'")).scalar_one() == str(SCHEMA_VERSION)
        conn.execute(sa.text("UPDATE meta SET value='999' WHERE key='schema_version'"))
    engine.dispose()
    with pytest.raises(StorageError, match="newer than this evoforge"):
        open_storage(postgres_url)


def test_postgres_open_errors_are_clear_and_hide_passwords(postgres_server):
    with pytest.raises(StorageError, match="no evoforge database"):
        open_storage(postgres_server.create_database(), read_only=True)
    url = f"postgresql://evoforge:s3cret@127.0.0.1:{postgres_server.port}/no_such_db"
    with pytest.raises(StorageError) as info:
        open_storage(url)
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


def test_postgres_concurrent_openers_migrate_once(postgres_url):
    """Controllers starting together must not race on creating the schema."""
    errors: list[BaseException] = []

    def opener():
        try:
            open_storage(postgres_url).close()
        except BaseException as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_allocate_index_is_unique_across_handles_and_threads(storage):
    run = storage.create_run("r", {}, "/t")
    storage.save_attempt(_attempt(run.id, 4, 1.0))
    assert storage.allocate_index(run.id) == 5  # continues after the stored attempts
    other = open_storage(storage.url)
    got: list[int] = []

    def grab(handle):
        for _ in range(20):
            got.append(handle.allocate_index(run.id))

    threads = [threading.Thread(target=grab, args=(h,)) for h in (storage, other, storage, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert sorted(got) == list(range(6, 86))
