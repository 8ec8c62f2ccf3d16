"""SQLite storage (the default): one file per run folder, WAL journal, one transaction per write.

WAL lets the dashboard read while the engine writes, and with ``synchronous=NORMAL`` a process
killed at any moment loses at most the write in flight (power loss may lose the last commits).
"""
from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import StorageError
from ..program import Attempt, AttemptStatus, LLMCallRecord, new_id
from .base import RunInfo
from .fingerprints import RESTORE_COLUMNS, FingerprintRow, RestoreRow
from .migrations.sqlite import migrate, schema_version
from .rows import (
    ATTEMPT_COLUMNS,
    FINGERPRINT_COLUMNS,
    LIGHT_COLUMNS,
    MANIFEST_COLUMN,
    attempt_from_row,
    attempt_row,
    code_from_manifest,
    manifest_hashes,
    event_from_row,
    llm_call_from_row,
    llm_call_values,
    run_from_row,
    run_values,
    safe_json,
    usage_from_row,
)
from .schema import check_version

# A re-save without a fingerprint keeps the stored one, unless the code itself changed.
_UPSERT_TAIL = ", ".join(f"{c} = excluded.{c}" for c in (*ATTEMPT_COLUMNS, MANIFEST_COLUMN) if c != "id") + ", " + \
    ", ".join(f"{c} = CASE WHEN excluded.code_hash IS attempts.code_hash THEN COALESCE(excluded.{c}, attempts.{c}) "
              f"ELSE excluded.{c} END" for c in FINGERPRINT_COLUMNS)
_LIGHT = ", ".join(LIGHT_COLUMNS)
_HAS_CODE = f"(code IS NOT NULL OR {MANIFEST_COLUMN} IS NOT NULL)"


def path_from_url(url: str) -> Path:
    """``sqlite:///rel.db`` -> rel.db, ``sqlite:////abs.db`` -> /abs.db."""
    rest = url.split("://", 1)[1]
    if not rest.startswith("/"):
        raise StorageError(f"bad SQLite URL {url!r}: expected sqlite:///PATH")
    return Path(rest[1:])


class SQLiteStorage:
    """`Storage` on one SQLite file. Thread-safe: one connection guarded by a lock."""

    def __init__(self, url: str, *, read_only: bool = False, create: bool = True) -> None:
        self.url = url
        self.path = path_from_url(url)
        self.read_only = read_only
        self._lock = threading.RLock()
        if not self.path.exists() and (read_only or not create):
            raise StorageError(f"no run database at {self.path}")
        if not read_only:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(f"cannot create the folder for {self.path}: {exc.strerror}") from None
        try:
            if read_only:
                self._conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False, timeout=30)
            else:
                self._conn = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30, isolation_level=None)
            try:
                # a newer schema is refused before anything (the journal mode included) is changed
                check_version(schema_version(self._conn), str(self.path))
                if not read_only:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute("PRAGMA synchronous=NORMAL")
                    migrate(self._conn, str(self.path))
            except BaseException:
                self._conn.close()
                raise
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the run database {self.path}: {exc}") from None
        # read-only: an old (version 1) database has no fingerprint columns, so none are read
        present = {r[1] for r in self._conn.execute("PRAGMA table_info(attempts)")}
        self.fingerprinted = read_only is False or "ast_hash" in present
        # read-only: a database older than version 3 has no manifests (every code is in `code`)
        manifest = MANIFEST_COLUMN if read_only is False or MANIFEST_COLUMN in present else f"NULL AS {MANIFEST_COLUMN}"
        self._manifest = manifest
        self._columns = ", ".join((*ATTEMPT_COLUMNS, manifest))
        self._has_code = _HAS_CODE if "NULL AS" not in manifest else "code IS NOT NULL"
        self._conn.row_factory = sqlite3.Row

    # -- helpers -------------------------------------------------------------------------
    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE (one writer at a time across processes), COMMIT,
        or ROLLBACK and a StorageError that names the file."""
        if self.read_only:
            raise StorageError("this storage was opened read-only")
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                yield self._conn
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                try:
                    self._conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
                raise StorageError(f"cannot write to {self.path}: {exc}") from None

    def _write(self, sql: str, params: tuple | list = ()) -> int:
        """One statement in its own transaction; the number of rows it changed."""
        with self._transaction() as conn:
            return conn.execute(sql, params).rowcount

    def _read(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def _insert(self, table: str, values: dict[str, Any], tail: str = "") -> int:
        names = list(values)
        return self._write(f"INSERT INTO {table}({', '.join(names)}) VALUES ({', '.join('?' for _ in names)}){tail}",
                           [values[c] for c in names])

    # -- runs ----------------------------------------------------------------------------
    def create_run(self, name: str, config: dict[str, Any], task_path: str, meta: dict[str, Any] | None = None) -> RunInfo:
        info = RunInfo(id=new_id(), name=name, created_at=time.time(), config=config, task_path=task_path, meta=meta or {})
        # atomic: of two processes creating one name at once, exactly one inserts it
        if self._insert("runs", run_values(info), " ON CONFLICT(name) DO NOTHING") != 1:
            raise StorageError(f"a run named {name!r} already exists in {self.url}")
        return info

    def get_run(self, name_or_id: str) -> RunInfo | None:
        rows = self._read("SELECT * FROM runs WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1",
                          (name_or_id, name_or_id, name_or_id))
        return run_from_row(rows[0]) if rows else None

    def list_runs(self) -> list[RunInfo]:
        return [run_from_row(r) for r in self._read("SELECT * FROM runs ORDER BY created_at, id")]

    def update_run_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        self._write("UPDATE runs SET meta = ? WHERE id = ?", (safe_json(meta), run_id))

    # -- attempts ------------------------------------------------------------------------
    def save_attempt(self, attempt: Attempt, fingerprint: tuple[str, bytes | None] | None = None) -> None:
        values, blobs = attempt_row(attempt, fingerprint)
        names = list(values)
        with self._transaction() as conn:   # a folder program's files first (each stored once), then its row
            if blobs:
                conn.executemany("INSERT OR IGNORE INTO blobs(hash, content) VALUES (?, ?)", list(blobs.items()))
            conn.execute(f"INSERT INTO attempts({', '.join(names)}) VALUES ({', '.join('?' for _ in names)}) "
                         f"ON CONFLICT(id) DO UPDATE SET {_UPSERT_TAIL}", [values[c] for c in names])

    def _blobs(self, hashes: set[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        ordered = sorted(hashes)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start:start + 500]
            out.update((r[0], r[1]) for r in self._read(
                f"SELECT hash, content FROM blobs WHERE hash IN ({', '.join('?' for _ in chunk)})", chunk))
        return out

    def _attempts_from(self, rows: list[sqlite3.Row]) -> list[Attempt]:
        """Attempts from full rows, folder programs' code rebuilt from their manifests (one blob query)."""
        hashes = manifest_hashes(dict(r) for r in rows) if rows and MANIFEST_COLUMN in rows[0].keys() else set()
        blobs = self._blobs(hashes) if hashes else {}
        return [attempt_from_row(r, blobs) for r in rows]

    # -- fingerprints (schema version 2) ---------------------------------------------------
    def find_by_ast_hash(self, run_id: str, ast_hash: str, statuses: tuple[str, ...]) -> str | None:
        if not self.fingerprinted:
            return None
        marks = ", ".join("?" for _ in statuses)
        rows = self._read(
            f"SELECT id FROM attempts WHERE run_id = ? AND ast_hash = ? AND status IN ({marks}) "
            "ORDER BY +proposal_index, created_at, id LIMIT 1", (run_id, ast_hash, *statuses))
        return rows[0][0] if rows else None

    def fingerprints(self, run_id: str, statuses: tuple[str, ...], *, programs_only: bool = False) -> list[FingerprintRow]:
        if not self.fingerprinted:
            return []
        marks = ", ".join("?" for _ in statuses)
        sql = (f"SELECT id, ast_hash, minhash, {self._has_code} FROM attempts WHERE run_id = ? AND status IN ({marks})"
               + (" AND score IS NOT NULL" if programs_only else "") + " ORDER BY proposal_index, created_at, id")
        return [FingerprintRow(r[0], r[1], r[2], bool(r[3])) for r in self._read(sql, (run_id, *statuses))]

    def restore_rows(self, run_id: str) -> list[RestoreRow]:
        with self._lock:
            cur = self._conn.cursor()
            cur.row_factory = None   # plain tuples: sqlite3.Row costs more than the query here
            rows = cur.execute(f"SELECT {', '.join(RESTORE_COLUMNS)} FROM attempts WHERE run_id = ? "
                               "ORDER BY proposal_index, created_at, id", (run_id,)).fetchall()
        return [RestoreRow._make(r) for r in rows]

    def codes(self, attempt_ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        manifests: dict[str, str] = {}
        for start in range(0, len(attempt_ids), 500):
            chunk = attempt_ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            for r in self._read(f"SELECT id, code, {self._manifest} FROM attempts WHERE id IN ({marks}) AND {self._has_code}",
                                chunk):
                if r[2]:
                    manifests[r[0]] = r[2]
                else:
                    out[r[0]] = r[1]
        if manifests:
            blobs = self._blobs(manifest_hashes({MANIFEST_COLUMN: m} for m in manifests.values()))
            out.update((pid, code_from_manifest(m, blobs)) for pid, m in manifests.items())
        return out

    def set_fingerprints(self, rows: list[tuple[str, str, bytes | None]]) -> None:
        if not rows:
            return
        with self._transaction() as conn:
            conn.executemany("UPDATE attempts SET ast_hash = ?, minhash = ? WHERE id = ?",
                             [(h, sig, pid) for pid, h, sig in rows])

    def get_attempt(self, attempt_id: str) -> Attempt | None:
        rows = self._read(f"SELECT {self._columns} FROM attempts WHERE id = ?", (attempt_id,))
        if not rows:  # allow unique id prefixes, as git does (case-sensitive, no wildcards: as PostgreSQL)
            prefix = attempt_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self._read(f"SELECT {self._columns} FROM attempts WHERE id LIKE ? ESCAPE '\\' "
                              "AND substr(id, 1, ?) = ? LIMIT 2", (prefix + "%", len(attempt_id), attempt_id))
            if len(rows) != 1:
                return None
        return self._attempts_from(rows)[0]

    def attempts(
        self, run_id: str, *, status: AttemptStatus | None = None, island: int | None = None,
        since_index: int | None = None, limit: int | None = None, with_code: bool = True,
    ) -> list[Attempt]:
        sql, params = f"SELECT {self._columns if with_code else _LIGHT} FROM attempts WHERE run_id = ?", [run_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(AttemptStatus(status).value)
        if island is not None:
            sql += " AND island = ?"
            params.append(island)
        if since_index is not None:
            sql += " AND proposal_index >= ?"
            params.append(since_index)
        sql += " ORDER BY proposal_index, created_at, id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return self._attempts_from(self._read(sql, params))

    def count_attempts(self, run_id: str, status: AttemptStatus | None = None) -> int:
        if status is None:
            return self._read("SELECT COUNT(*) FROM attempts WHERE run_id = ?", (run_id,))[0][0]
        return self._read(
            "SELECT COUNT(*) FROM attempts WHERE run_id = ? AND status = ?", (run_id, AttemptStatus(status).value)
        )[0][0]

    def best_attempts(self, run_id: str, n: int = 1, *, maximize: bool = True, island: int | None = None) -> list[Attempt]:
        order = "DESC" if maximize else "ASC"
        sql = f"SELECT {self._columns} FROM attempts WHERE run_id = ? AND status = 'ok' AND score IS NOT NULL"
        params: list[Any] = [run_id]
        if island is not None:
            sql += " AND island = ?"
            params.append(island)
        sql += f" ORDER BY score {order}, proposal_index ASC, created_at, id LIMIT ?"
        params.append(n)
        return self._attempts_from(self._read(sql, params))

    def find_by_hash(self, run_id: str, code_hash: str) -> Attempt | None:
        rows = self._read(
            f"SELECT {self._columns} FROM attempts WHERE run_id = ? AND code_hash = ? "
            "AND status NOT IN ('pending', 'duplicate') "
            "ORDER BY +proposal_index, created_at, id LIMIT 1",  # '+': use the hash index, not a scan in index order
            (run_id, code_hash),
        )
        return self._attempts_from(rows)[0] if rows else None

    # -- llm usage -----------------------------------------------------------------------
    def add_llm_call(self, record: LLMCallRecord) -> None:
        self._insert("llm_calls", llm_call_values(record), " ON CONFLICT(id) DO NOTHING")

    def llm_calls(self, run_id: str) -> list[LLMCallRecord]:
        rows = self._read("SELECT * FROM llm_calls WHERE run_id = ? ORDER BY created_at, rowid", (run_id,))
        return [llm_call_from_row(r) for r in rows]

    def usage_totals(self, run_id: str) -> dict[str, float]:
        row = self._read(
            "SELECT COUNT(*), COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0),"
            " COALESCE(SUM(reasoning_tokens),0), COALESCE(SUM(cost_usd),0) FROM llm_calls WHERE run_id = ?",
            (run_id,),
        )[0]
        return usage_from_row(*row)

    # -- engine state and events -----------------------------------------------------------
    def set_state(self, run_id: str, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO state(run_id, key, value) VALUES (?,?,?)", (run_id, key, safe_json(value)))

    def allocate_index(self, run_id: str) -> int:
        with self._transaction() as conn:
            row = conn.execute("SELECT value FROM state WHERE run_id = ? AND key = 'next_index'", (run_id,)).fetchone()
            if row is None:
                top = conn.execute("SELECT MAX(proposal_index) FROM attempts WHERE run_id = ?", (run_id,)).fetchone()[0]
                value = 0 if top is None else int(top) + 1
            else:
                value = int(json.loads(row[0]))
            conn.execute("INSERT OR REPLACE INTO state(run_id, key, value) VALUES (?, 'next_index', ?)",
                         (run_id, json.dumps(value + 1)))
        return value

    def get_state(self, run_id: str, key: str, default: Any = None) -> Any:
        rows = self._read("SELECT value FROM state WHERE run_id = ? AND key = ?", (run_id, key))
        return json.loads(rows[0][0]) if rows else default

    def add_event(self, run_id: str, kind: str, payload: dict[str, Any]) -> None:
        self._write(
            "INSERT INTO events(run_id, created_at, kind, payload) VALUES (?,?,?,?)",
            (run_id, time.time(), kind, safe_json(payload)),
        )

    def events(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM events WHERE run_id = ?", [run_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        return [event_from_row(r) for r in self._read(sql + " ORDER BY id", params)]

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
