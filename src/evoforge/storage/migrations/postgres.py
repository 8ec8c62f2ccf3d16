"""The PostgreSQL schema (SQLAlchemy Core tables) and its ordered migrations.

The tables and columns are those of the SQLite backend (`evoforge.storage.sqlite.SCHEMA`), so
that a run reads the same whichever backend holds it; the only addition is ``llm_calls.seq``,
an identity column that gives calls recorded in the same microsecond a stable order (SQLite
gets that from its implicit rowid). JSON values are stored as TEXT, as in SQLite, because
evoforge keeps non-finite metrics as text and JSONB would reject them.
"""
from __future__ import annotations

from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

SCHEMA_VERSION = 2
_LOCK_KEY = 0x65766F666F726765 & 0x7FFFFFFFFFFFFFFF  # "evoforge", a stable advisory-lock id

metadata = sa.MetaData()
Double = sa.Float(precision=53)  # DOUBLE PRECISION, as SQLite's REAL

meta = sa.Table(
    "meta", metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
runs = sa.Table(
    "runs", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, unique=True),
    sa.Column("created_at", Double, nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("task_path", sa.Text, nullable=False),
    sa.Column("meta", sa.Text, nullable=False, server_default="{}"),
)
attempts = sa.Table(
    "attempts", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("parent_id", sa.Text),
    sa.Column("inspiration_ids", sa.Text, nullable=False, server_default="[]"),
    sa.Column("island", sa.Integer, nullable=False, server_default="0"),
    sa.Column("generation", sa.Integer, nullable=False, server_default="0"),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("mutation", sa.Text, nullable=False, server_default=""),
    sa.Column("model", sa.Text),
    sa.Column("score", Double),
    sa.Column("private_score", Double),
    sa.Column("metrics", sa.Text, nullable=False, server_default="{}"),
    sa.Column("feedback", sa.Text, nullable=False, server_default=""),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("diff", sa.Text, nullable=False, server_default=""),
    sa.Column("prompt", sa.Text, nullable=False, server_default=""),
    sa.Column("response", sa.Text, nullable=False, server_default=""),
    sa.Column("stdout", sa.Text, nullable=False, server_default=""),
    sa.Column("stderr", sa.Text, nullable=False, server_default=""),
    sa.Column("code", sa.Text),
    sa.Column("code_hash", sa.Text),
    sa.Column("input_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("output_tokens", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("eval_seconds", Double, nullable=False, server_default="0"),
    sa.Column("created_at", Double, nullable=False),
    sa.Column("proposal_index", sa.BigInteger, nullable=False, server_default="-1"),
    sa.Column("ast_hash", sa.Text),        # version 2: see `_v2_fingerprints`
    sa.Column("minhash", sa.LargeBinary),
    sa.Index("attempts_run_status_score", "run_id", "status", "score"),
    sa.Index("attempts_run_island", "run_id", "island", "status"),
    sa.Index("attempts_run_hash", "run_id", "code_hash"),
    sa.Index("attempts_run_index", "run_id", "proposal_index"),
    sa.Index("attempts_parent", "parent_id"),
    sa.Index("attempts_run_ast", "run_id", "ast_hash"),
)
llm_calls = sa.Table(
    "llm_calls", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("attempt_id", sa.Text),
    sa.Column("model", sa.Text, nullable=False),
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("input_tokens", sa.BigInteger, nullable=False),
    sa.Column("output_tokens", sa.BigInteger, nullable=False),
    sa.Column("reasoning_tokens", sa.BigInteger, nullable=False),
    sa.Column("latency_s", Double, nullable=False),
    sa.Column("cost_usd", Double, nullable=False),
    sa.Column("error", sa.Text, nullable=False, server_default=""),
    sa.Column("created_at", Double, nullable=False),
    sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
    sa.Index("llm_calls_run", "run_id", "created_at"),
)
state = sa.Table(
    "state", metadata,
    sa.Column("run_id", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
events = sa.Table(
    "events", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
    sa.Column("run_id", sa.Text, nullable=False),
    sa.Column("created_at", Double, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Index("events_run", "run_id", "kind"),
)
TABLES = {t.name: t for t in (meta, runs, attempts, llm_calls, state, events)}


def _v1_initial(conn: Connection) -> None:
    """Version 1: the tables and indexes of the SQLite schema version 1."""
    metadata.create_all(conn, checkfirst=True)


def _v2_fingerprints(conn: Connection) -> None:
    """Version 2: each attempt's normalized-AST hash and MinHash signature, stored once so a
    resumed run reads them instead of recomputing them (as SQLite's version 2). A database
    created at version 1 by this code already has them (`_v1_initial` creates the current
    tables), hence IF NOT EXISTS."""
    conn.execute(sa.text("ALTER TABLE attempts ADD COLUMN IF NOT EXISTS ast_hash TEXT, "
                         "ADD COLUMN IF NOT EXISTS minhash BYTEA"))
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS attempts_run_ast ON attempts (run_id, ast_hash)"))


# MIGRATIONS[i] brings a database from version i to version i + 1. Append, never edit.
MIGRATIONS: list[Callable[[Connection], None]] = [_v1_initial, _v2_fingerprints]
assert len(MIGRATIONS) == SCHEMA_VERSION


def schema_version(conn: Connection) -> int:
    """The database's schema version; 0 for a database evoforge has never touched."""
    if not sa.inspect(conn).has_table("meta"):
        return 0
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 0


def migrate(conn: Connection) -> int:
    """Bring the database to `SCHEMA_VERSION` inside the caller's transaction; return the
    version found before. Raises RuntimeError for a database newer than this evoforge."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    found = schema_version(conn)
    if found > SCHEMA_VERSION:
        raise RuntimeError(f"the database has schema version {found}, newer than this evoforge "
                           f"supports ({SCHEMA_VERSION}); upgrade evoforge")
    for version in range(found, SCHEMA_VERSION):
        MIGRATIONS[version](conn)
    if found != SCHEMA_VERSION:
        from sqlalchemy.dialects.postgresql import insert

        stmt = insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION))
        conn.execute(stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": stmt.excluded.value}))
    return found
