"""Schema creation and migrations of the storage backends (`postgres`, `sqlite`), both rendered
from the one schema declaration in `evoforge.storage.schema`.

Why not Alembic: the schema is small and owned by evoforge alone, so the version that added each
column and index, plus one ``schema_version`` row in the ``meta`` table (kept by both backends,
which move in step), is enough, is easy to read, and runs at open time without a separate
command. Several controllers opening one database at once are serialised (a PostgreSQL advisory
lock, SQLite's ``BEGIN IMMEDIATE``), so each migration runs exactly once; a database written by a
newer evoforge is refused, untouched, by both.

The PostgreSQL names are loaded on first use: SQLite runs must not need SQLAlchemy.
"""
from __future__ import annotations

from typing import Any

from ..schema import SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "TABLES", "migrate", "schema_version"]


def __getattr__(name: str) -> Any:
    if name in ("TABLES", "migrate", "schema_version", "metadata"):
        from . import postgres

        return getattr(postgres, name)
    raise AttributeError(name)
