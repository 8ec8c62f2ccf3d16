"""The old home of the PostgreSQL backend, kept for one release: import `PostgresStorage` from
`evoforge.storage.postgres` instead (the class was named ``SQLAlchemyStorage``, but it speaks
PostgreSQL's dialect only, so it is now named for what it supports)."""
from __future__ import annotations

from .postgres import PostgresStorage, driver_url, mask_url

SQLAlchemyStorage = PostgresStorage   # deprecated alias, removed in the next release

__all__ = ["PostgresStorage", "SQLAlchemyStorage", "driver_url", "mask_url"]
