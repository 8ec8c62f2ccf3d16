"""The storage schema, declared once and rendered for each backend.

Why one declaration: the SQLite DDL text and the PostgreSQL (SQLAlchemy) tables used to be
written separately and drifted apart. Here every table, column and index is named once, with
the schema version that added it (``since``); each backend renders the current schema for a
fresh database and the columns and indexes added in version *v* for its migration to *v*
(`evoforge.storage.migrations`). A run therefore reads the same whichever backend holds it,
and the conformance suite (`evoforge.testing.storage_suite`) checks that a fresh database and
a migrated old one end up with the same columns and indexes on both.

Types are abstract (``text``, ``integer``, ``bigint``, ``real``, ``blob``, ``identity``);
JSON values are TEXT on both backends because evoforge keeps non-finite metrics as text,
which JSONB would reject. One deliberate difference: an ``identity`` column that is not the
primary key (``llm_calls.seq``, a stable order for calls recorded in the same microsecond)
exists only on PostgreSQL, because SQLite's implicit rowid already gives that order.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import StorageError

SCHEMA_VERSION = 3

KINDS = ("text", "integer", "bigint", "real", "blob", "identity")


@dataclass(frozen=True)
class Column:
    """One column. `default` is a Python value (int, float or str) rendered as SQL by each backend."""

    name: str
    kind: str
    nullable: bool = True
    default: int | float | str | None = None
    since: int = 1

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown column kind {self.kind!r}")


@dataclass(frozen=True)
class Index:
    name: str
    columns: tuple[str, ...]
    since: int = 1


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    unique: tuple[str, ...] = ()          # single-column UNIQUE constraints
    indexes: tuple[Index, ...] = ()
    since: int = 1                        # the schema version that added the table

    def columns_at(self, version: int = SCHEMA_VERSION) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.since <= version)

    def indexes_at(self, version: int = SCHEMA_VERSION) -> tuple[Index, ...]:
        return tuple(i for i in self.indexes if i.since <= version)

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _text(name: str, default: str | None = None, *, nullable: bool | None = None) -> Column:
    return Column(name, "text", nullable=default is None if nullable is None else nullable, default=default)


META = Table("meta", (Column("key", "text", nullable=False), Column("value", "text", nullable=False)), ("key",))
RUNS = Table(
    "runs",
    (Column("id", "text", nullable=False), Column("name", "text", nullable=False),
     Column("created_at", "real", nullable=False), _text("config", nullable=False),
     _text("task_path", nullable=False), _text("meta", "{}")),
    ("id",), unique=("name",),
)
ATTEMPTS = Table(
    "attempts",
    (
        Column("id", "text", nullable=False), Column("run_id", "text", nullable=False), _text("parent_id"),
        _text("inspiration_ids", "[]"),
        Column("island", "integer", nullable=False, default=0),
        Column("generation", "integer", nullable=False, default=0),
        Column("status", "text", nullable=False), _text("mutation", ""), _text("model"),
        Column("score", "real"), Column("private_score", "real"), _text("metrics", "{}"),
        _text("feedback", ""), _text("reason", ""), _text("diff", ""), _text("prompt", ""), _text("response", ""),
        _text("stdout", ""), _text("stderr", ""), _text("code"), _text("code_hash"),
        Column("input_tokens", "bigint", nullable=False, default=0),
        Column("output_tokens", "bigint", nullable=False, default=0),
        Column("eval_seconds", "real", nullable=False, default=0),
        Column("created_at", "real", nullable=False),
        Column("proposal_index", "bigint", nullable=False, default=-1),
        # version 2: the normalized-AST hash and MinHash signature, stored once so a resumed run
        # reads them instead of recomputing them (see `storage.fingerprints`)
        Column("ast_hash", "text", since=2), Column("minhash", "blob", since=2),
        # version 3: a folder program's manifest, {path: content hash} as JSON (its files are in
        # `blobs`, each stored once); `code` is NULL then (see `storage.rows.split_code`)
        Column("files", "text", since=3),
    ),
    ("id",),
    indexes=(
        Index("attempts_run_status_score", ("run_id", "status", "score")),
        Index("attempts_run_island", ("run_id", "island", "status")),
        Index("attempts_run_hash", ("run_id", "code_hash")),
        Index("attempts_run_index", ("run_id", "proposal_index")),
        Index("attempts_parent", ("parent_id",)),
        Index("attempts_run_ast", ("run_id", "ast_hash"), since=2),
    ),
)
LLM_CALLS = Table(
    "llm_calls",
    (
        Column("id", "text", nullable=False), Column("run_id", "text", nullable=False), _text("attempt_id"),
        Column("model", "text", nullable=False), Column("purpose", "text", nullable=False),
        Column("input_tokens", "bigint", nullable=False), Column("output_tokens", "bigint", nullable=False),
        Column("reasoning_tokens", "bigint", nullable=False), Column("latency_s", "real", nullable=False),
        Column("cost_usd", "real", nullable=False), _text("error", ""), Column("created_at", "real", nullable=False),
        Column("seq", "identity", nullable=False),
    ),
    ("id",),
    indexes=(Index("llm_calls_run", ("run_id", "created_at")),),
)
STATE = Table(
    "state",
    (Column("run_id", "text", nullable=False), Column("key", "text", nullable=False),
     Column("value", "text", nullable=False)),
    ("run_id", "key"),
)
EVENTS = Table(
    "events",
    (Column("id", "identity", nullable=False), Column("run_id", "text", nullable=False),
     Column("created_at", "real", nullable=False), Column("kind", "text", nullable=False),
     Column("payload", "text", nullable=False)),
    ("id",),
    indexes=(Index("events_run", ("run_id", "kind")),),
)
# version 3: the files of folder programs, by content hash (sha256 of the UTF-8 text): a file
# that did not change between attempts is stored once, however many attempts hold it
BLOBS = Table("blobs", (Column("hash", "text", nullable=False), Column("content", "text", nullable=False)),
              ("hash",), since=3)
TABLES: tuple[Table, ...] = (META, RUNS, ATTEMPTS, LLM_CALLS, STATE, EVENTS, BLOBS)


def tables_at(version: int = SCHEMA_VERSION) -> tuple[Table, ...]:
    return tuple(t for t in TABLES if t.since <= version)


def added_in(version: int) -> tuple[list[tuple[Table, Column]], list[tuple[Table, Index]]]:
    """The columns and indexes that schema version `version` added to tables that existed before
    it (what its migration creates after `tables_added_in`)."""
    columns = [(t, c) for t in TABLES if t.since < version for c in t.columns if c.since == version]
    indexes = [(t, i) for t in TABLES if t.since < version for i in t.indexes if i.since == version]
    return columns, indexes


def tables_added_in(version: int) -> tuple[Table, ...]:
    """The tables that schema version `version` added, whole (with their indexes)."""
    return tuple(t for t in TABLES if t.since == version)


def check_version(found: int, where: str) -> None:
    """Refuse a database written by a newer evoforge, before anything in it is touched: its
    rows may mean things this code does not know, and a migration would be a downgrade."""
    if found > SCHEMA_VERSION:
        raise StorageError(f"cannot open {where}: the database has schema version {found}, newer than this "
                           f"evoforge supports ({SCHEMA_VERSION}); upgrade evoforge to open it")


# -- SQLite rendering ---------------------------------------------------------------------------
_SQLITE_TYPES = {"text": "TEXT", "integer": "INTEGER", "bigint": "INTEGER", "real": "REAL", "blob": "BLOB"}


def sqlite_literal(value: float | str) -> str:
    return "'" + value.replace("'", "''") + "'" if isinstance(value, str) else repr(value)


def sqlite_column(table: Table, column: Column) -> str | None:
    """The column's SQLite definition; None for a non-key identity column (the rowid serves)."""
    single_key = table.primary_key == (column.name,)
    if column.kind == "identity":
        return f"{column.name} INTEGER PRIMARY KEY AUTOINCREMENT" if single_key else None
    parts = [column.name, _SQLITE_TYPES[column.kind]]
    if single_key:
        parts.append("PRIMARY KEY")
    if column.name in table.unique:
        parts.append("UNIQUE")
    if not column.nullable and not single_key:   # as evoforge has always written it: a TEXT key allows NULL
        parts.append("NOT NULL")
    if column.default is not None:
        parts.append(f"DEFAULT {sqlite_literal(column.default)}")
    return " ".join(parts)


def sqlite_index(table: Table, index: Index) -> str:
    return f"CREATE INDEX IF NOT EXISTS {index.name} ON {table.name}({', '.join(index.columns)})"


def sqlite_table_ddl(table: Table, version: int = SCHEMA_VERSION) -> list[str]:
    """CREATE statements (IF NOT EXISTS) of one table and its indexes at `version`."""
    cols = [d for d in (sqlite_column(table, c) for c in table.columns_at(version)) if d is not None]
    if len(table.primary_key) > 1:
        cols.append(f"PRIMARY KEY ({', '.join(table.primary_key)})")
    return [f"CREATE TABLE IF NOT EXISTS {table.name} ({', '.join(cols)})",
            *(sqlite_index(table, i) for i in table.indexes_at(version))]


def sqlite_ddl(version: int = SCHEMA_VERSION) -> list[str]:
    """CREATE statements (IF NOT EXISTS) of every table and index at `version`."""
    return [statement for table in tables_at(version) for statement in sqlite_table_ddl(table, version)]
