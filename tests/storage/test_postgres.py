"""PostgreSQL specifics: the URL forms users write, the old class name, errors that hide
passwords, and an empty database opened as an existing one (what every backend must do is in the
conformance suite, tests/storage/test_storage_conformance.py)."""
from __future__ import annotations

import pytest

from evoforge.errors import StorageError
from evoforge.storage import open_storage


def test_the_url_forms_users_write_open_the_postgres_backend(postgres_server):
    from evoforge.storage.postgres import PostgresStorage

    url = postgres_server.create_database()
    rest = url.split("://", 1)[1]
    first = open_storage(url)
    run = first.create_run("r", {}, "/t")
    first.close()
    for form in (f"postgres://{rest}", f"postgresql+psycopg://{rest}", f"PostgreSQL://{rest}"):
        store = open_storage(form)
        try:
            assert isinstance(store, PostgresStorage) and store.get_run("r").id == run.id
        finally:
            store.close()


def test_the_old_class_name_still_imports():
    from evoforge.storage.postgres import PostgresStorage, mask_url
    from evoforge.storage.sqlalchemy_storage import SQLAlchemyStorage
    from evoforge.storage.sqlalchemy_storage import mask_url as old_mask_url

    assert SQLAlchemyStorage is PostgresStorage and old_mask_url is mask_url


def test_open_errors_are_clear_and_hide_passwords(postgres_server):
    with pytest.raises(StorageError, match="no evoforge database"):
        open_storage(postgres_server.create_database(), read_only=True)
    url = f"postgresql://evoforge:s3cret@127.0.0.1:{postgres_server.port}/no_such_db"
    with pytest.raises(StorageError) as info:
        open_storage(url)
    assert "s3cret" not in str(info.value) and "***" in str(info.value)


def test_create_false_needs_an_evoforge_database_and_leaves_an_empty_one_empty(postgres_server):
    psycopg = pytest.importorskip("psycopg")
    url = postgres_server.create_database()
    with pytest.raises(StorageError, match="no evoforge database"):
        open_storage(url, create=False)
    with psycopg.connect(url) as conn:
        tables = conn.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").fetchone()
    assert tables[0] == 0
    open_storage(url).close()
    open_storage(url, create=False).close()
