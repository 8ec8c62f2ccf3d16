"""Schema migrations for the SQL server backends (PostgreSQL through SQLAlchemy).

Why not Alembic: the schema is small and owned by evoforge alone, so an ordered list of
migration functions plus one ``schema_version`` row in the ``meta`` table (the same row the
SQLite backend keeps) is enough, is easy to read, and runs at open time without a separate
command. Several controllers opening one database at once are serialised by a PostgreSQL
advisory lock held for the migration's transaction, so each migration runs exactly once.
"""
from __future__ import annotations

from .postgres import MIGRATIONS, SCHEMA_VERSION, TABLES, migrate, schema_version

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "TABLES", "migrate", "schema_version"]
