"""SQLite specifics: URLs, missing files, unwritable paths, durability across processes (what every
backend must do is in the conformance suite, tests/storage/test_storage_conformance.py)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from evoforge.errors import StorageError
from evoforge.storage import open_storage
from evoforge.storage.schema import SCHEMA_VERSION


def test_bare_path_and_url(tmp_path):
    s = open_storage(str(tmp_path / "a.db"))
    assert s.url.startswith("sqlite:///")
    s.close()
    assert (tmp_path / "a.db").exists()


def test_read_only_missing_database(tmp_path):
    with pytest.raises(StorageError, match="no run database"):
        open_storage(f"sqlite:///{tmp_path / 'missing.db'}", read_only=True)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    with pytest.raises(StorageError):
        open_storage(f"sqlite:///{locked / 'sub' / 'r.db'}")


def test_path_that_is_a_file_gives_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot"):
        open_storage(f"sqlite:///{blocker / 'r.db'}")


def test_unknown_scheme(tmp_path):
    with pytest.raises(StorageError, match="unsupported storage URL"):
        open_storage("mysql://x/y")


def test_killed_writer_loses_only_work_in_flight(tmp_path):
    """A writer killed with SIGKILL mid-stream leaves a consistent database with every committed row."""
    db = tmp_path / "k.db"
    script = f"""
import sys, os
sys.path.insert(0, {str(os.path.join(os.path.dirname(__file__), '..', '..', 'src'))!r})
from evoforge.storage import open_storage
from evoforge.program import Attempt, AttemptStatus
s = open_storage({'sqlite:///' + str(db)!r})
run = s.create_run('r', {{}}, '/t')
i = 0
while True:
    s.save_attempt(Attempt(run_id=run.id, code='x=%d' % i, status=AttemptStatus.OK, score=float(i), proposal_index=i))
    if i == 50:
        print('ready', flush=True)
    i += 1
"""
    p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    p.kill()
    p.wait()
    s = open_storage(f"sqlite:///{db}")
    run = s.get_run("r")
    rows = s.attempts(run.id)
    assert len(rows) >= 51
    assert sorted(a.proposal_index for a in rows) == list(range(len(rows)))
    s.close()


def test_create_false_needs_the_file(tmp_path):
    with pytest.raises(StorageError, match="no run database"):
        open_storage(f"sqlite:///{tmp_path / 'absent.db'}", create=False)
    assert not (tmp_path / "absent.db").exists()


def test_newer_database_keeps_its_journal_mode(tmp_path):
    """A refused open changes nothing at all, not even the journal mode (WAL is set only after the check)."""
    import sqlite3

    db = tmp_path / "newer.db"
    con = sqlite3.connect(db)
    con.executescript("PRAGMA journal_mode=DELETE; CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
                      "INSERT INTO meta VALUES ('schema_version', '99');")
    con.close()
    before = db.read_bytes()
    with pytest.raises(StorageError, match=rf"schema version 99, newer than this evoforge supports \({SCHEMA_VERSION}\)"):
        open_storage(f"sqlite:///{db}")
    assert db.read_bytes() == before
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    con.close()
