"""Schema creation and migrations of the SQLite backend, rendered from `evoforge.storage.schema`.

A fresh file gets the current schema; an older one (version 1 run databases hold exactly the
version-1 tables, and a ``schema_version`` row since the first release) gets the columns and
indexes each later version added. Both happen inside one ``BEGIN IMMEDIATE`` transaction, so two
processes opening an old run at once migrate it exactly once, and a crash leaves it unchanged. A
database written by a newer evoforge is refused before anything in it is touched.
"""
from __future__ import annotations

import sqlite3

from ..schema import (
    SCHEMA_VERSION,
    added_in,
    check_version,
    sqlite_column,
    sqlite_ddl,
    sqlite_index,
    sqlite_table_ddl,
    tables_added_in,
)

__all__ = ["SCHEMA_VERSION", "migrate", "schema_version"]


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's schema version; 0 for a file evoforge has never written to."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone() is None:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else 1


def _add(conn: sqlite3.Connection, version: int) -> None:
    """What version `version` added: tables, columns (ALTER TABLE), then indexes."""
    for table in tables_added_in(version):
        for statement in sqlite_table_ddl(table, version):
            conn.execute(statement)
    columns, indexes = added_in(version)
    present: dict[str, set[str]] = {}
    for table, column in columns:
        have = present.setdefault(table.name, {r[1] for r in conn.execute(f"PRAGMA table_info({table.name})")})
        definition = sqlite_column(table, column)
        if definition is not None and column.name not in have:
            conn.execute(f"ALTER TABLE {table.name} ADD COLUMN {definition}")
    for table, index in indexes:
        conn.execute(sqlite_index(table, index))


def migrate(conn: sqlite3.Connection, where: str) -> int:
    """Bring an open (autocommit) connection's database to `SCHEMA_VERSION`; return the version
    found. Raises StorageError, with nothing written, for a database newer than this evoforge."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        found = schema_version(conn)
        check_version(found, where)
        if found == 0:
            for statement in sqlite_ddl():
                conn.execute(statement)
        else:
            for version in range(found + 1, SCHEMA_VERSION + 1):
                _add(conn, version)
        if found != SCHEMA_VERSION:
            conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return found

