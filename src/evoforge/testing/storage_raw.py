"""Direct access to a storage backend's database, below the `Storage` API, for the conformance
suite: writing a database as an older evoforge did (schema version 1), marking one as written by
a newer evoforge, and reading what a database holds (its tables, columns, indexes and rows) to
prove that a migration produced the current schema or that a refused open changed nothing.

The version-1 schemas below are frozen copies of what evoforge wrote before schema version 2
(SQLite: the ``SCHEMA`` text of the first releases; PostgreSQL: the DDL SQLAlchemy emitted for
the tables of that release). They are history, deliberately not rendered from
`evoforge.storage.schema`: a migration test that built its old database from today's schema
declaration could not notice that declaration drifting.
"""
from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from evoforge.program import code_hash
from evoforge.storage import schema as spec

SQLITE_V1 = """
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
INSERT OR IGNORE INTO meta(key, value) VALUES ('schema_version', '1');
"""

POSTGRES_V1 = """
CREATE TABLE attempts (id TEXT NOT NULL, run_id TEXT NOT NULL, parent_id TEXT,
  inspiration_ids TEXT DEFAULT '[]' NOT NULL, island INTEGER DEFAULT '0' NOT NULL,
  generation INTEGER DEFAULT '0' NOT NULL, status TEXT NOT NULL, mutation TEXT DEFAULT '' NOT NULL, model TEXT,
  score FLOAT(53), private_score FLOAT(53), metrics TEXT DEFAULT '{}' NOT NULL, feedback TEXT DEFAULT '' NOT NULL,
  reason TEXT DEFAULT '' NOT NULL, diff TEXT DEFAULT '' NOT NULL, prompt TEXT DEFAULT '' NOT NULL,
  response TEXT DEFAULT '' NOT NULL, stdout TEXT DEFAULT '' NOT NULL, stderr TEXT DEFAULT '' NOT NULL, code TEXT,
  code_hash TEXT, input_tokens BIGINT DEFAULT '0' NOT NULL, output_tokens BIGINT DEFAULT '0' NOT NULL,
  eval_seconds FLOAT(53) DEFAULT '0' NOT NULL, created_at FLOAT(53) NOT NULL,
  proposal_index BIGINT DEFAULT '-1' NOT NULL, PRIMARY KEY (id));
CREATE INDEX attempts_run_status_score ON attempts (run_id, status, score);
CREATE INDEX attempts_run_island ON attempts (run_id, island, status);
CREATE INDEX attempts_run_hash ON attempts (run_id, code_hash);
CREATE INDEX attempts_run_index ON attempts (run_id, proposal_index);
CREATE INDEX attempts_parent ON attempts (parent_id);
CREATE TABLE events (id BIGINT GENERATED ALWAYS AS IDENTITY, run_id TEXT NOT NULL, created_at FLOAT(53) NOT NULL,
  kind TEXT NOT NULL, payload TEXT NOT NULL, PRIMARY KEY (id));
CREATE INDEX events_run ON events (run_id, kind);
CREATE TABLE llm_calls (id TEXT NOT NULL, run_id TEXT NOT NULL, attempt_id TEXT, model TEXT NOT NULL,
  purpose TEXT NOT NULL, input_tokens BIGINT NOT NULL, output_tokens BIGINT NOT NULL,
  reasoning_tokens BIGINT NOT NULL, latency_s FLOAT(53) NOT NULL, cost_usd FLOAT(53) NOT NULL,
  error TEXT DEFAULT '' NOT NULL, created_at FLOAT(53) NOT NULL, seq BIGINT GENERATED ALWAYS AS IDENTITY,
  PRIMARY KEY (id));
CREATE INDEX llm_calls_run ON llm_calls (run_id, created_at);
CREATE TABLE meta (key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (key));
CREATE TABLE runs (id TEXT NOT NULL, name TEXT NOT NULL, created_at FLOAT(53) NOT NULL, config TEXT NOT NULL,
  task_path TEXT NOT NULL, meta TEXT DEFAULT '{}' NOT NULL, PRIMARY KEY (id), UNIQUE (name));
CREATE TABLE state (run_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
INSERT INTO meta(key, value) VALUES ('schema_version', '1');
"""

# What version 2 added (as evoforge wrote it then): the fingerprint columns and their index.
SQLITE_V2_ADDED = """
ALTER TABLE attempts ADD COLUMN ast_hash TEXT;
ALTER TABLE attempts ADD COLUMN minhash BLOB;
CREATE INDEX IF NOT EXISTS attempts_run_ast ON attempts(run_id, ast_hash);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""
POSTGRES_V2_ADDED = """
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS ast_hash TEXT;
ALTER TABLE attempts ADD COLUMN IF NOT EXISTS minhash BYTEA;
CREATE INDEX IF NOT EXISTS attempts_run_ast ON attempts (run_id, ast_hash);
UPDATE meta SET value = '2' WHERE key = 'schema_version';
"""
V2_FINGERPRINT = ("a1", "h2")   # version 2 rows carry fingerprints: (attempt id, its ast_hash)

# What the version-1 database holds: one run, a program, an attempt that failed before code,
# one model call, one state value and one event (as the evoforge of that release wrote them).
V1_RUN = ("run1", "old-run", 1.0, '{"seed": 3}', "/task", "{}")
V1_CODE = "x = 1\n"
V1_ATTEMPTS = (
    ("a1", "run1", "ok", 1.5, V1_CODE, code_hash(V1_CODE), 2.0, 0, '{"m": 1}'),
    ("a2", "run1", "parse_failed", None, None, None, 3.0, 1, "{}"),
)
V1_INSERTS: tuple[tuple[str, tuple[Any, ...]], ...] = (
    ("INSERT INTO runs(id, name, created_at, config, task_path, meta) VALUES ({})", V1_RUN),
    *((("INSERT INTO attempts(id, run_id, status, score, code, code_hash, created_at, proposal_index, metrics) "
       "VALUES ({})"), row) for row in V1_ATTEMPTS),
    (("INSERT INTO llm_calls(id, run_id, attempt_id, model, purpose, input_tokens, output_tokens, reasoning_tokens, "
     "latency_s, cost_usd, error, created_at) VALUES ({})"), ("c1", "run1", "a1", "m", "mutation", 5, 7, 0, 0.1, 0.25, "", 2.0)),
    ("INSERT INTO state(run_id, key, value) VALUES ({})", ("run1", "next_index", "2")),
    ("INSERT INTO events(run_id, created_at, kind, payload) VALUES ({})", ("run1", 2.0, "new_best", '{"score": 1.5}')),
)


class RawDatabase(Protocol):
    """What the suite needs below the API, for one backend."""

    mark: str   # the driver's parameter placeholder

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...
    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]: ...
    def shape(self) -> dict[str, Any]:
        """Every table's columns (name, type, nullability, default) and indexes (name, columns)."""
        ...
    def declared(self) -> dict[str, list[str]]:
        """The column names `evoforge.storage.schema` declares for this backend, per table."""
        ...
    def write_version_1(self) -> None: ...
    def write_version_2(self) -> None:
        """The version-1 database, migrated as the version-2 evoforge did, with a fingerprint stored."""
        ...
    def close(self) -> None: ...


def digest(raw: RawDatabase) -> str:
    """A hash of the schema and of every row: equal before and after means nothing was touched."""
    h = hashlib.sha256(repr(sorted(raw.shape().items())).encode())
    for table in sorted(raw.shape()):
        h.update(repr(raw.query(f"SELECT * FROM {table} ORDER BY 1")).encode())
    return h.hexdigest()


def schema_version(raw: RawDatabase) -> int:
    return int(raw.query("SELECT value FROM meta WHERE key = 'schema_version'")[0][0])


def set_schema_version(raw: RawDatabase, version: int) -> None:
    raw.execute(f"UPDATE meta SET value = {raw.mark} WHERE key = 'schema_version'", (str(version),))


class SQLiteRaw:
    mark = "?"   # the driver's parameter placeholder

    def __init__(self, url: str) -> None:
        self.path = Path(url.split("://", 1)[1][1:])
        self._conn = sqlite3.connect(self.path, isolation_level=None)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, tuple(params))

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, tuple(params)).fetchall()

    def shape(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for (table,) in self.query("SELECT name FROM sqlite_master WHERE type = 'table' "
                                   "AND name NOT LIKE 'sqlite_%' ORDER BY name"):
            columns = [r[1:] for r in self.query(f"PRAGMA table_info({table})")]
            indexes = sorted((r[1], tuple(c[2] for c in self.query(f"PRAGMA index_info({r[1]})")))
                             for r in self.query(f"PRAGMA index_list({table})"))
            out[table] = (columns, indexes)
        return out

    def declared(self) -> dict[str, list[str]]:
        return {t.name: [c.name for c in t.columns if spec.sqlite_column(t, c) is not None] for t in spec.TABLES}

    def write_version_1(self) -> None:
        self._conn.executescript(SQLITE_V1)
        with self._conn:
            for sql, values in V1_INSERTS:
                self._conn.execute(sql.format(", ".join(self.mark for _ in values)), values)

    def write_version_2(self) -> None:
        self.write_version_1()
        self._conn.executescript(SQLITE_V2_ADDED)
        self._conn.execute("UPDATE attempts SET ast_hash = ? WHERE id = ?", V2_FINGERPRINT[::-1])

    def close(self) -> None:
        self._conn.close()


class PostgresRaw:
    mark = "%s"

    def __init__(self, url: str) -> None:
        import psycopg

        self._conn = psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, tuple(params) or None)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, tuple(params) or None).fetchall()

    def shape(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        tables = self.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' "
                            "ORDER BY table_name")
        for (table,) in tables:
            columns = self.query(
                "SELECT column_name, data_type, is_nullable, column_default, is_identity FROM information_schema.columns "
                "WHERE table_schema = 'public' AND table_name = %s ORDER BY ordinal_position", (table,))
            indexes = self.query("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
                                 "AND tablename = %s ORDER BY indexname", (table,))
            out[table] = (columns, indexes)
        return out

    def declared(self) -> dict[str, list[str]]:
        return {t.name: [c.name for c in t.columns] for t in spec.TABLES}

    def write_version_1(self) -> None:
        with self._conn.transaction():
            for statement in POSTGRES_V1.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            for sql, values in V1_INSERTS:
                self._conn.execute(sql.format(", ".join(self.mark for _ in values)), values)

    def write_version_2(self) -> None:
        self.write_version_1()
        with self._conn.transaction():
            for statement in POSTGRES_V2_ADDED.split(";"):
                if statement.strip():
                    self._conn.execute(statement)
            self._conn.execute("UPDATE attempts SET ast_hash = %s WHERE id = %s", V2_FINGERPRINT[::-1])

    def close(self) -> None:
        self._conn.close()


def raw_database(url: str) -> RawDatabase:
    """The raw handle for a storage URL (``sqlite:///…`` or ``postgresql://…``)."""
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme == "sqlite":
        return SQLiteRaw(url)
    if scheme in ("postgresql", "postgres"):
        return PostgresRaw(url)
    raise ValueError(f"no raw access for {url!r}")
