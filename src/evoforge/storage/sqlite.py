"""SQLite storage (the default): one file per run folder, WAL journal, one transaction per write.

WAL lets the dashboard read while the engine writes, and with ``synchronous=NORMAL`` a process
killed at any moment loses at most the write in flight (power loss may lose the last commits).
"""
from __future__ import annotations

import contextlib
import json
import math
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
from .migrations.sqlite import SCHEMA_VERSION, migrate

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, created_at REAL NOT NULL,
  config TEXT NOT NULL, task_path TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS attempts (
  id TEXT PRIMARY KEY, run_id TEXT NOT NULL, parent_id TEXT, inspiration_ids TEXT NOT NULL DEFAULT '[]',
  island INTEGER NOT NULL DEFAULT 0, generation INTEGER NOT NULL DEFAULT 0,
  status TEXT NOT NULL, mutation TEXT NOT NULL DEFAULT '', model TEXT,
  score REAL, private_score REAL, metrics TEXT NOT NULL DEFAULT '{}',
  feedback TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL DEFAULT '', diff TEXT NOT NULL DEFAULT '',
  prompt TEXT NOT NULL DEFAULT '', response TEXT NOT NULL DEFAULT '',
  stdout TEXT NOT NULL DEFAULT '', stderr TEXT NOT NULL DEFAULT '',
  code TEXT, code_hash TEXT, input_tokens INTEGER NOT NULL DEFAULT 0, output_tokens INTEGER NOT NULL DEFAULT 0,
  eval_seconds REAL NOT NULL DEFAULT 0, created_at REAL NOT NULL, proposal_index INTEGER NOT NULL DEFAULT -1
);
CREATE INDEX IF NOT EXISTS attempts_run_status_score ON attempts(run_id, status, score);
CREATE INDEX IF NOT EXISTS attempts_run_island ON attempts(run_id, island, status);
CREATE INDEX IF NOT EXISTS attempts_run_hash ON attempts(run_id, code_hash);
CREATE INDEX IF NOT EXISTS attempts_run_index ON attempts(run_id, proposal_index);
CREATE INDEX IF NOT EXISTS attempts_parent ON attempts(parent_id);
CREATE TABLE IF NOT EXISTS llm_calls (
  id TEXT PRIMARY KEY, run_id TEXT NOT NULL, attempt_id TEXT, model TEXT NOT NULL, purpose TEXT NOT NULL,
  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL, reasoning_tokens INTEGER NOT NULL,
  latency_s REAL NOT NULL, cost_usd REAL NOT NULL, error TEXT NOT NULL DEFAULT '', created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS llm_calls_run ON llm_calls(run_id, created_at);
CREATE TABLE IF NOT EXISTS state (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL, created_at REAL NOT NULL, kind TEXT NOT NULL, payload TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, kind);
"""

ATTEMPT_COLUMNS = (
    "id", "run_id", "parent_id", "inspiration_ids", "island", "generation", "status", "mutation", "model",
    "score", "private_score", "metrics", "feedback", "reason", "diff", "prompt", "response", "stdout", "stderr",
    "code", "code_hash", "input_tokens", "output_tokens", "eval_seconds", "created_at", "proposal_index",
)
LIGHT_COLUMNS = tuple(c for c in ATTEMPT_COLUMNS if c not in ("code", "prompt", "response", "stdout", "stderr", "diff"))
# Schema version 2: kept out of ATTEMPT_COLUMNS (an Attempt does not carry them), written by
# `save_attempt(fingerprint=…)` and `set_fingerprints`, read by `fingerprints`.
FINGERPRINT_COLUMNS = ("ast_hash", "minhash")
# A re-save without a fingerprint keeps the stored one, unless the code itself changed.
_UPSERT_TAIL = ", ".join(f"{c} = excluded.{c}" for c in ATTEMPT_COLUMNS if c != "id") + ", " + ", ".join(
    f"{c} = CASE WHEN excluded.code_hash IS attempts.code_hash THEN COALESCE(excluded.{c}, attempts.{c}) "
    f"ELSE excluded.{c} END" for c in FINGERPRINT_COLUMNS)


def _finite_or_none(x: float | None) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _json(value: Any) -> str:
    return json.dumps(value, default=str, allow_nan=False) if value is not None else "null"


def _safe_json(value: Any) -> str:
    try:
        return _json(value)
    except ValueError:  # NaN inside metrics: store as strings so nothing is lost
        return json.dumps(value, default=str)


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
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=NORMAL")
                self._conn.executescript(SCHEMA)
                migrate(self._conn)
        except sqlite3.Error as exc:
            raise StorageError(f"cannot open the run database {self.path}: {exc}") from None
        except RuntimeError as exc:  # schema newer than this code
            raise StorageError(f"cannot open {self.path}: {exc}") from None
        # read-only: an old (version 1) database has no fingerprint columns, so none are read
        self.fingerprinted = read_only is False or "ast_hash" in {
            r[1] for r in self._conn.execute("PRAGMA table_info(attempts)")}
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

    def _write(self, sql: str, params: tuple | list = ()) -> None:
        with self._transaction() as conn:
            conn.execute(sql, params)

    def _read(self, sql: str, params: tuple | list = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # -- runs ----------------------------------------------------------------------------
    def create_run(self, name: str, config: dict[str, Any], task_path: str, meta: dict[str, Any] | None = None) -> RunInfo:
        if self.get_run(name) is not None:
            raise StorageError(f"a run named {name!r} already exists in {self.url}")
        info = RunInfo(id=new_id(), name=name, created_at=time.time(), config=config, task_path=task_path, meta=meta or {})
        self._write(
            "INSERT INTO runs(id, name, created_at, config, task_path, meta) VALUES (?,?,?,?,?,?)",
            (info.id, info.name, info.created_at, _safe_json(config), task_path, _safe_json(info.meta)),
        )
        return info

    @staticmethod
    def _run_from_row(row: sqlite3.Row) -> RunInfo:
        return RunInfo(
            id=row["id"], name=row["name"], created_at=row["created_at"], config=json.loads(row["config"]),
            task_path=row["task_path"], meta=json.loads(row["meta"]),
        )

    def get_run(self, name_or_id: str) -> RunInfo | None:
        rows = self._read("SELECT * FROM runs WHERE id = ? OR name = ? LIMIT 1", (name_or_id, name_or_id))
        return self._run_from_row(rows[0]) if rows else None

    def list_runs(self) -> list[RunInfo]:
        return [self._run_from_row(r) for r in self._read("SELECT * FROM runs ORDER BY created_at")]

    def update_run_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        self._write("UPDATE runs SET meta = ? WHERE id = ?", (_safe_json(meta), run_id))

    # -- attempts ------------------------------------------------------------------------
    def save_attempt(self, attempt: Attempt, fingerprint: tuple[str, bytes | None] | None = None) -> None:
        d = attempt.to_dict()
        d["score"] = _finite_or_none(attempt.score)
        d["private_score"] = _finite_or_none(attempt.private_score)
        d["metrics"] = _safe_json(attempt.metrics)
        d["inspiration_ids"] = json.dumps(attempt.inspiration_ids)
        d["ast_hash"], d["minhash"] = fingerprint or (None, None)
        names = ATTEMPT_COLUMNS + FINGERPRINT_COLUMNS
        cols = ", ".join(names)
        marks = ", ".join("?" for _ in names)
        self._write(f"INSERT INTO attempts({cols}) VALUES ({marks}) ON CONFLICT(id) DO UPDATE SET {_UPSERT_TAIL}",
                    [d[c] for c in names])

    # -- fingerprints (schema version 2) ---------------------------------------------------
    def find_by_ast_hash(self, run_id: str, ast_hash: str, statuses: tuple[str, ...]) -> str | None:
        if not self.fingerprinted:
            return None
        marks = ", ".join("?" for _ in statuses)
        rows = self._read(
            f"SELECT id FROM attempts WHERE run_id = ? AND ast_hash = ? AND status IN ({marks}) "
            "ORDER BY +proposal_index LIMIT 1", (run_id, ast_hash, *statuses))
        return rows[0][0] if rows else None

    def fingerprints(self, run_id: str, statuses: tuple[str, ...], *, programs_only: bool = False) -> list[FingerprintRow]:
        if not self.fingerprinted:
            return []
        marks = ", ".join("?" for _ in statuses)
        sql = (f"SELECT id, ast_hash, minhash, code IS NOT NULL FROM attempts WHERE run_id = ? AND status IN ({marks})"
               + (" AND score IS NOT NULL" if programs_only else "") + " ORDER BY proposal_index, created_at")
        return [FingerprintRow(r[0], r[1], r[2], bool(r[3])) for r in self._read(sql, (run_id, *statuses))]

    def restore_rows(self, run_id: str) -> list[RestoreRow]:
        with self._lock:
            cur = self._conn.cursor()
            cur.row_factory = None   # plain tuples: sqlite3.Row costs more than the query here
            rows = cur.execute(f"SELECT {', '.join(RESTORE_COLUMNS)} FROM attempts WHERE run_id = ? "
                               "ORDER BY proposal_index, created_at", (run_id,)).fetchall()
        return [RestoreRow._make(r) for r in rows]

    def codes(self, attempt_ids: list[str]) -> dict[str, str]:
        out: dict[str, str] = {}
        for start in range(0, len(attempt_ids), 500):
            chunk = attempt_ids[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            out.update((r[0], r[1]) for r in self._read(
                f"SELECT id, code FROM attempts WHERE id IN ({marks}) AND code IS NOT NULL", chunk))
        return out

    def set_fingerprints(self, rows: list[tuple[str, str, bytes | None]]) -> None:
        if not rows:
            return
        with self._transaction() as conn:
            conn.executemany("UPDATE attempts SET ast_hash = ?, minhash = ? WHERE id = ?",
                             [(h, sig, pid) for pid, h, sig in rows])

    @staticmethod
    def _attempt_from_row(row: sqlite3.Row) -> Attempt:
        d = dict(row)
        d["metrics"] = json.loads(d["metrics"]) if d.get("metrics") else {}
        d["inspiration_ids"] = json.loads(d["inspiration_ids"]) if d.get("inspiration_ids") else []
        return Attempt.from_dict(d)

    def get_attempt(self, attempt_id: str) -> Attempt | None:
        rows = self._read("SELECT * FROM attempts WHERE id = ?", (attempt_id,))
        if not rows:  # allow unique id prefixes, as git does
            rows = self._read("SELECT * FROM attempts WHERE id LIKE ? LIMIT 2", (attempt_id + "%",))
            if len(rows) != 1:
                return None
        return self._attempt_from_row(rows[0])

    def attempts(
        self, run_id: str, *, status: AttemptStatus | None = None, island: int | None = None,
        since_index: int | None = None, limit: int | None = None, with_code: bool = True,
    ) -> list[Attempt]:
        cols = "*" if with_code else ", ".join(LIGHT_COLUMNS)
        sql, params = f"SELECT {cols} FROM attempts WHERE run_id = ?", [run_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(AttemptStatus(status).value)
        if island is not None:
            sql += " AND island = ?"
            params.append(island)
        if since_index is not None:
            sql += " AND proposal_index >= ?"
            params.append(since_index)
        sql += " ORDER BY proposal_index, created_at"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        out = []
        for row in self._read(sql, params):
            d = dict(row)
            for missing in ("code", "prompt", "response", "stdout", "stderr", "diff"):
                d.setdefault(missing, None if missing == "code" else "")
            d["metrics"] = json.loads(d["metrics"]) if d.get("metrics") else {}
            d["inspiration_ids"] = json.loads(d["inspiration_ids"]) if d.get("inspiration_ids") else []
            out.append(Attempt.from_dict(d))
        return out

    def count_attempts(self, run_id: str, status: AttemptStatus | None = None) -> int:
        if status is None:
            return self._read("SELECT COUNT(*) FROM attempts WHERE run_id = ?", (run_id,))[0][0]
        return self._read(
            "SELECT COUNT(*) FROM attempts WHERE run_id = ? AND status = ?", (run_id, AttemptStatus(status).value)
        )[0][0]

    def best_attempts(self, run_id: str, n: int = 1, *, maximize: bool = True, island: int | None = None) -> list[Attempt]:
        order = "DESC" if maximize else "ASC"
        sql = "SELECT * FROM attempts WHERE run_id = ? AND status = 'ok' AND score IS NOT NULL"
        params: list[Any] = [run_id]
        if island is not None:
            sql += " AND island = ?"
            params.append(island)
        sql += f" ORDER BY score {order}, proposal_index ASC LIMIT ?"
        params.append(n)
        return [self._attempt_from_row(r) for r in self._read(sql, params)]

    def find_by_hash(self, run_id: str, code_hash: str) -> Attempt | None:
        rows = self._read(
            "SELECT * FROM attempts WHERE run_id = ? AND code_hash = ? AND status NOT IN ('pending', 'duplicate') "
            "ORDER BY +proposal_index LIMIT 1",  # '+': use the hash index, not a scan in index order
            (run_id, code_hash),
        )
        return self._attempt_from_row(rows[0]) if rows else None

    # -- llm usage -----------------------------------------------------------------------
    def add_llm_call(self, record: LLMCallRecord) -> None:
        self._write(
            "INSERT INTO llm_calls(id, run_id, attempt_id, model, purpose, input_tokens, output_tokens, reasoning_tokens,"
            " latency_s, cost_usd, error, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (record.id, record.run_id, record.attempt_id, record.model, record.purpose, record.input_tokens,
             record.output_tokens, record.reasoning_tokens, record.latency_s, record.cost_usd, record.error,
             record.created_at),
        )

    def llm_calls(self, run_id: str) -> list[LLMCallRecord]:
        rows = self._read("SELECT * FROM llm_calls WHERE run_id = ? ORDER BY created_at", (run_id,))
        return [LLMCallRecord(**dict(r)) for r in rows]

    def usage_totals(self, run_id: str) -> dict[str, float]:
        row = self._read(
            "SELECT COUNT(*), COALESCE(SUM(input_tokens),0), COALESCE(SUM(output_tokens),0),"
            " COALESCE(SUM(reasoning_tokens),0), COALESCE(SUM(cost_usd),0) FROM llm_calls WHERE run_id = ?",
            (run_id,),
        )[0]
        return {"calls": row[0], "input_tokens": row[1], "output_tokens": row[2], "reasoning_tokens": row[3], "cost_usd": row[4]}

    # -- engine state and events -----------------------------------------------------------
    def set_state(self, run_id: str, key: str, value: Any) -> None:
        self._write("INSERT OR REPLACE INTO state(run_id, key, value) VALUES (?,?,?)", (run_id, key, _safe_json(value)))

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
            (run_id, time.time(), kind, _safe_json(payload)),
        )

    def events(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        sql, params = "SELECT * FROM events WHERE run_id = ?", [run_id]
        if kind:
            sql += " AND kind = ?"
            params.append(kind)
        rows = self._read(sql + " ORDER BY id", params)
        return [{"id": r["id"], "created_at": r["created_at"], "kind": r["kind"], "payload": json.loads(r["payload"])} for r in rows]

    def close(self) -> None:
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass
