"""A conformance suite that every storage backend must pass.

In the spirit of Optuna's ``testing/pytest_storages.py``: one set of tests, run against each
backend, so that SQLite and PostgreSQL keep the same semantics (what comes back, in what order,
how old and newer schemas are handled, what happens when processes share a database).
Subclass `StorageTestCase` once per backend and give it a ``new_url`` fixture: a callable that
returns the URL of a fresh, empty database each time it is called::

    from evoforge.testing.storage_suite import StorageTestCase

    class TestSQLite(StorageTestCase):
        @pytest.fixture
        def new_url(self, tmp_path):
            names = itertools.count()
            return lambda: f"sqlite:///{tmp_path / f'run{next(names)}.db'}"

The checks are real: real database files and servers, real threads, real processes meeting
at a `multiprocessing` barrier, databases written with the historic version-1 schema
(`storage_raw`), and digests of every row to prove a refused open touched nothing.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from evoforge.storage import Storage, open_storage
from evoforge.testing.storage_checks_files import FileChecks
from evoforge.testing.storage_checks_rows import SIG, RowChecks, attempt
from evoforge.testing.storage_checks_schema import SchemaChecks
from evoforge.testing.storage_checks_shared import SharedChecks
from evoforge.testing.storage_raw import (
    RawDatabase,
    digest,
    raw_database,
    schema_version,
    set_schema_version,
)


class StorageTestCase(RowChecks, SchemaChecks, SharedChecks, FileChecks):
    """Subclass with a ``new_url`` fixture (name the subclass ``Test...``)."""

    @pytest.fixture
    def new_url(self) -> Callable[[], str]:
        raise NotImplementedError("a StorageTestCase subclass must define the new_url fixture")

    @pytest.fixture
    def open_url(self) -> Iterator[Callable[..., Storage]]:
        """`open_storage`, closing every handle it opened when the test ends."""
        opened: list[Storage] = []

        def make(url: str, **kwargs: Any) -> Storage:
            store = open_storage(url, **kwargs)
            opened.append(store)
            return store

        yield make
        for store in opened:
            store.close()

    @pytest.fixture
    def storage(self, new_url: Callable[[], str], open_url: Callable[..., Storage]) -> Storage:
        """A storage on a fresh database."""
        return open_url(new_url())

    @pytest.fixture
    def raw(self) -> Iterator[Callable[[str], RawDatabase]]:
        """Raw access below the API (`storage_raw.raw_database`), one handle per URL, closed at the end."""
        handles: dict[str, RawDatabase] = {}

        def get(url: str) -> RawDatabase:
            if url not in handles:
                handles[url] = raw_database(url)
            return handles[url]

        yield get
        for handle in handles.values():
            handle.close()


__all__ = [
    "SIG",
    "RawDatabase",
    "StorageTestCase",
    "attempt",
    "digest",
    "raw_database",
    "schema_version",
    "set_schema_version",
]
