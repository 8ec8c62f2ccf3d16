"""The PostgreSQL schema as SQLAlchemy Core tables, rendered from `evoforge.storage.schema`, and
its migrations.

A fresh database gets the current tables; an older one gets the columns and indexes each later
version added (``ADD COLUMN IF NOT EXISTS``). Both run in the caller's transaction under an
advisory lock, so controllers opening one database at once migrate it exactly once. A database
written by a newer evoforge is refused before anything in it is touched.
"""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ...errors import StorageError
from .. import schema as spec
from ..schema import SCHEMA_VERSION, added_in, check_version, tables_added_in

__all__ = ["SCHEMA_VERSION", "TABLES", "metadata", "migrate", "schema_version"]

_LOCK_KEY = 0x65766F666F726765 & 0x7FFFFFFFFFFFFFFF  # "evoforge", a stable advisory-lock id
_TYPES = {"text": sa.Text, "integer": sa.Integer, "bigint": sa.BigInteger,
          "real": sa.Float(precision=53),   # DOUBLE PRECISION, as SQLite's REAL
          "blob": sa.LargeBinary, "identity": sa.BigInteger}


def _column(table: spec.Table, column: spec.Column) -> sa.Column:
    args: list = [column.name, _TYPES[column.kind]]
    if column.kind == "identity":
        args.append(sa.Identity(always=True))
    kwargs = {"primary_key": column.name in table.primary_key, "nullable": column.nullable,
              "unique": column.name in table.unique or None}
    if column.default is not None:
        kwargs["server_default"] = str(column.default)
    return sa.Column(*args, **kwargs)


metadata = sa.MetaData()
TABLES: dict[str, sa.Table] = {
    t.name: sa.Table(t.name, metadata, *[_column(t, c) for c in t.columns],
                     *[sa.Index(i.name, *i.columns) for i in t.indexes])
    for t in spec.TABLES
}


def schema_version(conn: Connection) -> int:
    """The database's schema version; 0 for a database evoforge has never touched."""
    if not sa.inspect(conn).has_table("meta"):
        return 0
    meta = TABLES["meta"]
    row = conn.execute(sa.select(meta.c.value).where(meta.c.key == "schema_version")).first()
    return int(row[0]) if row else 0


def _add(conn: Connection, version: int) -> None:
    """What version `version` added: tables, columns, then indexes (each IF NOT EXISTS)."""
    for table in tables_added_in(version):
        TABLES[table.name].create(conn, checkfirst=True)
    columns, indexes = added_in(version)
    dialect = conn.dialect
    for table, column in columns:
        kind = TABLES[table.name].c[column.name].type.compile(dialect=dialect)
        conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN IF NOT EXISTS {column.name} {kind}"))
    for table, index in indexes:
        conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {index.name} ON {table.name} ({', '.join(index.columns)})"))


def migrate(conn: Connection, where: str, *, create: bool = True) -> int:
    """Bring the database to `SCHEMA_VERSION` inside the caller's transaction; return the
    version found before. Raises StorageError for a database newer than this evoforge, and
    (`create` false) for one with no evoforge schema yet."""
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    found = schema_version(conn)
    check_version(found, where)
    if found == 0 and not create:
        raise StorageError(f"no evoforge database at {where} (no schema found)")
    if found == 0:
        metadata.create_all(conn, checkfirst=True)
    else:
        for version in range(found + 1, SCHEMA_VERSION + 1):
            _add(conn, version)
    if found != SCHEMA_VERSION:
        from sqlalchemy.dialects.postgresql import insert

        meta = TABLES["meta"]
        stmt = insert(meta).values(key="schema_version", value=str(SCHEMA_VERSION))
        conn.execute(stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": stmt.excluded.value}))
    return found
