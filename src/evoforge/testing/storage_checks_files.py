"""Storage conformance checks, part 4: folder programs (schema version 3). A bundle comes back
byte for byte from every read; its files are stored once by content hash, so an unchanged file
costs no new row per attempt; one-file programs stay in the `code` column; a version-2 database
migrates to the very schema a fresh one has, with its rows and fingerprints intact."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from evoforge.bundle import pack, unpack
from evoforge.program import Attempt, AttemptStatus
from evoforge.storage.fingerprints import EVALUATED_STATUSES
from evoforge.storage.schema import SCHEMA_VERSION
from evoforge.testing.storage_raw import V1_CODE, V2_FINGERPRINT, schema_version

# Odd corners on purpose: no final newline, CRLF, non-ASCII, an empty file, a nested path.
FILES = {"solver/__init__.py": "", "solver/heuristic.py": "# EVOLVE-BLOCK-START\nW = 1\n# EVOLVE-BLOCK-END\n",
         "solver/main.py": "from .heuristic import W\r\ndef solve():\r\n    return W  # π\r\n",
         "harness.txt": "frozen, no final newline"}


def bundle(i: int) -> str:
    files = dict(FILES)
    files["solver/heuristic.py"] = f"# EVOLVE-BLOCK-START\nW = {i}\n# EVOLVE-BLOCK-END\n"
    return pack(files)


def folder_attempt(run_id: str, i: int, score: float | None = None, **kw: Any) -> Attempt:
    return Attempt(run_id=run_id, code=bundle(i), status=AttemptStatus.OK, score=score, proposal_index=i, **kw)


class FileChecks:
    """Mixed into `storage_suite.StorageTestCase` (its `storage`, `open_url`, `raw` fixtures)."""

    def test_a_folder_program_comes_back_byte_for_byte_from_every_read(self, storage: Any) -> None:
        run = storage.create_run("r", {}, "/t")
        a = folder_attempt(run.id, 1, 2.0)
        storage.save_attempt(a, ("h", None))
        assert unpack(a.code)["harness.txt"] == FILES["harness.txt"]
        assert storage.get_attempt(a.id).code == a.code
        assert storage.get_attempt(a.id).to_dict() == a.to_dict()
        assert storage.attempts(run.id)[0].code == a.code
        assert storage.attempts(run.id, with_code=False)[0].code is None
        assert storage.best_attempts(run.id)[0].code == a.code
        assert storage.find_by_hash(run.id, a.code_hash).id == a.id
        assert storage.codes([a.id]) == {a.id: a.code}
        assert [r.has_code for r in storage.fingerprints(run.id, EVALUATED_STATUSES)] == [True]

    def test_unchanged_files_are_stored_once(self, storage: Any, raw: Callable[[str], Any]) -> None:
        run = storage.create_run("r", {}, "/t")
        saved = [folder_attempt(run.id, i, float(i)) for i in range(20)]
        for a in saved:
            storage.save_attempt(a)
        storage.save_attempt(saved[3])   # saved again: nothing new
        db = raw(storage.url)
        # three files never change, one file has 20 versions: 23 blobs, not 20 * 4
        assert db.query("SELECT COUNT(*) FROM blobs")[0][0] == len(FILES) - 1 + 20
        assert db.query("SELECT COUNT(*) FROM attempts WHERE code IS NULL AND files IS NOT NULL")[0][0] == 20
        assert {a.id: a.code for a in storage.attempts(run.id)} == {a.id: a.code for a in saved}
        # a second run holding the same files adds no blob either
        other = storage.create_run("r2", {}, "/t")
        storage.save_attempt(folder_attempt(other.id, 5))
        assert db.query("SELECT COUNT(*) FROM blobs")[0][0] == len(FILES) - 1 + 20

    def test_a_one_file_program_stays_in_the_code_column(self, storage: Any, raw: Callable[[str], Any]) -> None:
        run = storage.create_run("r", {}, "/t")
        plain = Attempt(run_id=run.id, code="x = 1\n", status=AttemptStatus.OK, score=1.0)
        # a model's text that starts like a bundle but is not a well-formed one: kept as it is
        odd = Attempt(run_id=run.id, code="=== evoforge-file: ../x ===\nX = 1\n", status=AttemptStatus.SYNTAX_ERROR)
        for a in (plain, odd):
            storage.save_attempt(a)
            assert storage.get_attempt(a.id).code == a.code
        db = raw(storage.url)
        assert db.query("SELECT COUNT(*) FROM attempts WHERE files IS NULL AND code IS NOT NULL")[0][0] == 2
        assert db.query("SELECT COUNT(*) FROM blobs")[0][0] == 0

    def test_a_re_save_that_changes_the_program_changes_the_manifest(self, storage: Any) -> None:
        run = storage.create_run("r", {}, "/t")
        a = folder_attempt(run.id, 1)
        storage.save_attempt(a)
        a.code = "y = 2\n"           # the same attempt, now a one-file text: the manifest goes
        storage.save_attempt(a)
        assert storage.get_attempt(a.id).code == "y = 2\n"
        a.code = bundle(7)
        storage.save_attempt(a)
        assert storage.get_attempt(a.id).code == bundle(7)

    def test_version_2_database_migrates_to_the_current_schema(self, new_url: Callable[[], str], open_url: Any,
                                                               raw: Callable[[str], Any]) -> None:
        url = new_url()
        old = raw(url)
        old.write_version_2()
        ro = open_url(url, read_only=True)   # a reader of an old run changes nothing and still reads it
        assert ro.get_attempt("a1").code == V1_CODE and ro.codes(["a1"]) == {"a1": V1_CODE}
        assert [r.has_code for r in ro.fingerprints("run1", ("ok",))] == [True]
        ro.close()
        assert schema_version(old) == 2

        s = open_url(url)
        assert schema_version(old) == SCHEMA_VERSION
        assert s.get_attempt("a1").code == V1_CODE
        assert s.find_by_ast_hash("run1", V2_FINGERPRINT[1], ("ok",)) == "a1"   # version 2's data kept
        a = folder_attempt("run1", 9, 3.0)
        s.save_attempt(a)
        assert s.get_attempt(a.id).code == a.code
        s.close()
        fresh = new_url()
        open_url(fresh).close()
        assert old.shape() == raw(fresh).shape()   # migrated == created today
