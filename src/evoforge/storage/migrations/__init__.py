"""Schema migrations of the storage backends (`postgres` for SQLAlchemy, `sqlite`).

Why not Alembic: the schema is small and owned by evoforge alone, so an ordered list of
migration functions plus one ``schema_version`` row in the ``meta`` table (kept by both
backends, which move in step) is enough, is easy to read, and runs at open time without a
separate command. Several controllers opening one database at once are serialised (a
PostgreSQL advisory lock, SQLite's ``BEGIN IMMEDIATE``), so each migration runs exactly once.

The PostgreSQL names are loaded on first use: SQLite runs must not need SQLAlchemy.
"""
from __future__ import annotations

from typing import Any

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "TABLES", "migrate", "schema_version"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import postgres

        return getattr(postgres, name)
    raise AttributeError(name)
