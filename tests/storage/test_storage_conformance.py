"""The storage conformance suite (evoforge.testing.storage_suite) against every backend.

PostgreSQL runs against a real server started by tests/storage/pg_server.py (skipped, saying
why, only when its binaries are absent); each `new_url` call is a fresh database on it."""
from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from evoforge.testing.storage_suite import StorageTestCase


class TestSQLite(StorageTestCase):
    @pytest.fixture
    def new_url(self, tmp_path: Path) -> Callable[[], str]:
        names = itertools.count()
        return lambda: f"sqlite:///{tmp_path / f'run{next(names)}.db'}"


class TestPostgres(StorageTestCase):
    @pytest.fixture
    def new_url(self, postgres_server) -> Callable[[], str]:
        return postgres_server.create_database
