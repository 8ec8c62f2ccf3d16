"""Storage test fixtures: the PostgreSQL server (shared with tests/executors via `pg_server`)."""
from __future__ import annotations

from pg_server import postgres_server, postgres_url  # noqa: F401  (fixtures, used by name)
