"""Stored fingerprints (schema version 2) on every backend: each attempt's normalized-AST hash
and MinHash signature, written with the attempt, kept across re-saves, found by an indexed query;
old databases (version 1) open and are migrated."""
from __future__ import annotations

import sqlite3

import pytest

from evoforge.errors import StorageError
from evoforge.program import Attempt, AttemptStatus
from evoforge.storage import open_storage
from evoforge.storage.fingerprints import EVALUATED_STATUSES
from evoforge.storage.sqlite import SCHEMA

SIG = bytes(range(256)) * 2  # 64 uint64 slots


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    s = open_storage(url)
    yield s
    s.close()


def _ok(run_id, i, code=None, **kw):
    return Attempt(run_id=run_id, code=code or f"x = {i}\n", status=AttemptStatus.OK, score=float(i),
                   proposal_index=i, **kw)


def test_fingerprint_is_stored_with_the_attempt_and_found_by_ast_hash(storage):
    run = storage.create_run("r", {}, "/t")
    a = _ok(run.id, 1)
    storage.save_attempt(a, ("h1", SIG))
    rows = storage.fingerprints(run.id, EVALUATED_STATUSES)
    assert [(r.id, r.ast_hash, r.minhash, r.has_code) for r in rows] == [(a.id, "h1", SIG, True)]
    assert storage.find_by_ast_hash(run.id, "h1", EVALUATED_STATUSES) == a.id
    assert storage.find_by_ast_hash(run.id, "other", EVALUATED_STATUSES) is None
    assert storage.find_by_ast_hash(run.id, "h1", ("error",)) is None   # only the statuses asked for
    assert storage.get_attempt(a.id).to_dict() == a.to_dict()           # the Attempt itself is unchanged


def test_resave_keeps_the_fingerprint_unless_the_code_changes(storage):
    run = storage.create_run("r", {}, "/t")
    a = _ok(run.id, 1)
    storage.save_attempt(a, ("h1", SIG))
    a.feedback = "re-saved without a fingerprint"
    storage.save_attempt(a)
    assert storage.fingerprints(run.id, ("ok",))[0].ast_hash == "h1"
    a.code = "y = 2\n"
    storage.save_attempt(a)
    assert storage.fingerprints(run.id, ("ok",))[0].ast_hash is None


def test_programs_only_and_backfill(storage):
    run = storage.create_run("r", {}, "/t")
    ok, no_score = _ok(run.id, 1), _ok(run.id, 2)
    no_score.score = None
    failed = Attempt(run_id=run.id, code="z = 3\n", status=AttemptStatus.ERROR, proposal_index=3)
    for a in (ok, no_score, failed):
        storage.save_attempt(a)
    assert [r.id for r in storage.fingerprints(run.id, ("ok",), programs_only=True)] == [ok.id]
    assert all(r.ast_hash is None for r in storage.fingerprints(run.id, EVALUATED_STATUSES))
    assert storage.codes([ok.id, failed.id, "missing"]) == {ok.id: ok.code, failed.id: failed.code}
    storage.set_fingerprints([(ok.id, "a", SIG), (failed.id, "b", None)])
    got = {r.id: (r.ast_hash, r.minhash) for r in storage.fingerprints(run.id, EVALUATED_STATUSES)}
    assert got[ok.id] == ("a", SIG) and got[failed.id] == ("b", None) and got[no_score.id] == (None, None)
    assert storage.find_by_ast_hash(run.id, "b", EVALUATED_STATUSES) == failed.id


def _version_1_sqlite(path):
    """A run database as evoforge wrote it before fingerprints existed (schema version 1)."""
    con = sqlite3.connect(path)
    con.executescript(SCHEMA)
    con.execute("INSERT INTO meta(key, value) VALUES ('schema_version', '1')")
    con.execute("INSERT INTO runs(id, name, created_at, config, task_path) VALUES ('run1', 'r', 0, '{}', '/t')")
    con.execute("INSERT INTO attempts(id, run_id, status, score, code, code_hash, created_at, proposal_index) "
                "VALUES ('a1', 'run1', 'ok', 1.0, 'x = 1\n', 'c', 0, 0)")
    con.commit()
    con.close()


def test_version_1_sqlite_database_opens_read_only_and_migrates(tmp_path):
    db = tmp_path / "old.db"
    _version_1_sqlite(db)
    ro = open_storage(f"sqlite:///{db}", read_only=True)   # the dashboard on an old run: reads, no columns needed
    assert [a.id for a in ro.attempts("run1")] == ["a1"] and ro.fingerprints("run1", ("ok",)) == []
    ro.close()
    s = open_storage(f"sqlite:///{db}")
    assert s._read("SELECT value FROM meta WHERE key='schema_version'")[0][0] == "2"
    assert [(r.id, r.ast_hash) for r in s.fingerprints("run1", ("ok",))] == [("a1", None)]
    s.set_fingerprints([("a1", "h", SIG)])
    assert s.find_by_ast_hash("run1", "h", ("ok",)) == "a1"
    s.close()
    again = open_storage(f"sqlite:///{db}")   # reopening a migrated database changes nothing
    assert again.fingerprints("run1", ("ok",))[0].minhash == SIG
    again.close()


def test_newer_sqlite_schema_is_refused(tmp_path):
    db = tmp_path / "new.db"
    open_storage(f"sqlite:///{db}").close()
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value = '999' WHERE key = 'schema_version'")
    con.commit()
    con.close()
    with pytest.raises(StorageError, match="newer than this evoforge"):
        open_storage(f"sqlite:///{db}")


def test_version_1_postgres_database_migrates(postgres_url):
    sa = pytest.importorskip("sqlalchemy")
    s = open_storage(postgres_url)
    run = s.create_run("r", {}, "/t")
    a = _ok(run.id, 1)
    s.save_attempt(a)
    s.close()
    engine = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://"))
    with engine.begin() as conn:   # back to version 1: no fingerprint columns
        conn.execute(sa.text("DROP INDEX attempts_run_ast"))
        conn.execute(sa.text("ALTER TABLE attempts DROP COLUMN ast_hash, DROP COLUMN minhash"))
        conn.execute(sa.text("UPDATE meta SET value = '1' WHERE key = 'schema_version'"))
    s = open_storage(postgres_url)
    assert [(r.id, r.ast_hash) for r in s.fingerprints(run.id, ("ok",))] == [(a.id, None)]
    s.set_fingerprints([(a.id, "h", SIG)])
    assert s.find_by_ast_hash(run.id, "h", ("ok",)) == a.id
    s.close()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT value FROM meta WHERE key='schema_version'")).scalar_one() == "2"
    engine.dispose()
