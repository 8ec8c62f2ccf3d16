"""Storage conformance checks, part 2: the schema. A fresh database holds exactly the declared
schema and is stamped with its version; an old (version 1) database, as an earlier evoforge
wrote it, is migrated to the very same schema with its rows intact; a database written by a newer
evoforge is refused, naming both versions, with nothing in it touched; openers racing on a fresh
database create it once."""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

import pytest

from evoforge.errors import StorageError
from evoforge.program import AttemptStatus
from evoforge.storage.schema import SCHEMA_VERSION
from evoforge.testing.storage_checks_rows import SIG
from evoforge.testing.storage_raw import (
    V1_CODE,
    digest,
    schema_version,
    set_schema_version,
)


class SchemaChecks:
    """Mixed into `storage_suite.StorageTestCase` (its `new_url`, `storage` and `open` fixtures)."""

    def test_fresh_database_has_the_declared_schema_and_version(self, storage: Any, raw: Callable[[str], Any]) -> None:
        db = raw(storage.url)
        assert schema_version(db) == SCHEMA_VERSION
        shape = db.shape()
        assert {t: [c[0] for c in cols] for t, (cols, _) in shape.items()} == db.declared()

    def test_reopening_changes_nothing(self, storage: Any, open_url: Any, raw: Callable[[str], Any]) -> None:
        run = storage.create_run("r", {}, "/t")
        before = digest(raw(storage.url))
        again = open_url(storage.url)
        assert again.get_run("r").id == run.id
        again.close()
        assert digest(raw(storage.url)) == before

    def test_newer_schema_is_refused_untouched(self, storage: Any, open_url: Any, raw: Callable[[str], Any]) -> None:
        run = storage.create_run("r", {}, "/t")
        storage.close()
        db = raw(storage.url)
        newer = SCHEMA_VERSION + 1
        set_schema_version(db, newer)
        db.execute("DROP INDEX attempts_run_ast")   # what an open that "repaired" the schema would re-create
        before = digest(db)
        for read_only in (False, True):
            with pytest.raises(StorageError) as info:
                open_url(storage.url, read_only=read_only)
            message = str(info.value)
            assert re.search(rf"\b{newer}\b", message) and re.search(rf"\b{SCHEMA_VERSION}\b", message), message
            assert "newer than this evoforge" in message
        assert digest(db) == before and schema_version(db) == newer
        assert run.id in {r[0] for r in db.query("SELECT id FROM runs")}

    def test_version_1_database_opens_read_only_and_migrates(self, new_url: Callable[[], str], open_url: Any,
                                                               raw: Callable[[str], Any]) -> None:
        url = new_url()
        old = raw(url)
        old.write_version_1()
        before = digest(old)
        ro = open_url(url, read_only=True)   # the dashboard on an old run: it reads, it changes nothing
        assert [a.id for a in ro.attempts("run1")] == ["a1", "a2"]
        assert ro.fingerprints("run1", ("ok",)) == [] and ro.find_by_ast_hash("run1", "h", ("ok",)) is None
        ro.close()
        assert digest(old) == before

        s = open_url(url)
        assert schema_version(old) == SCHEMA_VERSION
        run = s.get_run("old-run")
        assert run.id == "run1" and run.config == {"seed": 3}
        a1 = s.get_attempt("a1")
        assert a1.code == V1_CODE and a1.score == 1.5 and a1.metrics == {"m": 1} and a1.status is AttemptStatus.OK
        assert s.find_by_hash("run1", a1.code_hash).id == "a1"
        assert s.get_attempt("a2").status is AttemptStatus.PARSE_FAILED
        assert s.usage_totals("run1")["input_tokens"] == 5 and s.llm_calls("run1")[0].id == "c1"
        assert s.events("run1")[0]["payload"] == {"score": 1.5}
        assert s.allocate_index("run1") == 2    # the stored counter goes on
        assert [(r.id, r.ast_hash) for r in s.fingerprints("run1", ("ok",))] == [("a1", None)]
        s.set_fingerprints([("a1", "h", SIG)])
        assert s.find_by_ast_hash("run1", "h", ("ok",)) == "a1"
        s.close()

        fresh = new_url()
        open_url(fresh).close()
        assert old.shape() == raw(fresh).shape()      # migrated == created today: the schema has one source
        migrated = digest(old)
        open_url(url).close()                             # reopening a migrated database changes nothing
        assert digest(old) == migrated

    def test_concurrent_openers_create_the_schema_once(self, new_url: Callable[[], str], open_url: Any,
                                                        raw: Callable[[str], Any]) -> None:
        """Controllers starting together on an empty database must not race on creating it."""
        url = new_url()
        errors: list[BaseException] = []
        start = threading.Barrier(6)

        def opener() -> None:
            try:
                start.wait(timeout=60)
                open_url(url).close()
            except BaseException as exc:  # noqa: BLE001 - collected for the assert
                errors.append(exc)

        threads = [threading.Thread(target=opener) for _ in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert schema_version(raw(url)) == SCHEMA_VERSION
        assert raw(url).query("SELECT COUNT(*) FROM meta")[0][0] == 1
