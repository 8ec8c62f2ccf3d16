"""Schema migrations of the SQLite backend, in step with the PostgreSQL ones.

Why here and not in ``SCHEMA``: ``SCHEMA`` is version 1 exactly as old run databases hold it
(``CREATE … IF NOT EXISTS`` is a no-op on them), and each later version is a function that
brings a database from version i to i + 1, run at open time inside one ``BEGIN IMMEDIATE``
transaction, so two processes opening an old run at once migrate it exactly once.
"""
from __future__ import annotations

import sqlite3
from typing import Callable

SCHEMA_VERSION = 2


def _v2_fingerprints(conn: sqlite3.Connection) -> None:
    """Version 2: each attempt's normalized-AST hash and MinHash signature, computed once when
    the attempt is stored, so a resumed run reads them instead of recomputing them (and the
    AST-duplicate check is an indexed query, not an in-memory dict of every program)."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(attempts)")}
    if "ast_hash" not in columns:
        conn.execute("ALTER TABLE attempts ADD COLUMN ast_hash TEXT")
    if "minhash" not in columns:
        conn.execute("ALTER TABLE attempts ADD COLUMN minhash BLOB")
    conn.execute("CREATE INDEX IF NOT EXISTS attempts_run_ast ON attempts(run_id, ast_hash)")


# MIGRATIONS[i] brings a database from version i + 1 to version i + 2 (version 1 is SCHEMA).
MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_v2_fingerprints]
assert len(MIGRATIONS) == SCHEMA_VERSION - 1


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 1


def migrate(conn: sqlite3.Connection) -> int:
    """Bring an open (autocommit) connection's database to `SCHEMA_VERSION`; return the version
    found. Raises RuntimeError for a database newer than this evoforge."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(conn)
        if found > SCHEMA_VERSION:
            raise RuntimeError(f"the database has schema version {found}, newer than this evoforge "
                               f"supports ({SCHEMA_VERSION}); upgrade evoforge")
        for version in range(found, SCHEMA_VERSION):
            MIGRATIONS[version - 1](conn)
        conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found
