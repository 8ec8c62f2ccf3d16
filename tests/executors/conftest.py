"""Executor test fixtures: one real local Ray cluster per session, task folders written on the
fly (executor_helpers.py), and the PostgreSQL server shared with tests/storage (tests/storage/pg_server.py)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "storage"))
from pg_server import postgres_server, postgres_url  # noqa: E402,F401  (fixtures, used by name)



@pytest.fixture(scope="session")
def ray_cluster():
    """A real local Ray cluster: 2 CPUs, one custom resource slot; shut down at the end."""
    ray = pytest.importorskip("ray", reason="ray is not installed: pip install 'evoforge[ray]'")
    try:
        ray.init(address="local", num_cpus=2, resources={"evoforge_slot": 1}, include_dashboard=False,
                 object_store_memory=128 * 1024 * 1024, log_to_driver=False, logging_level="WARNING")
    except Exception as exc:  # the exact error is the point: a container that cannot run Ray
        pytest.fail(f"a local Ray cluster could not start here: {type(exc).__name__}: {exc}")
    yield ray
    ray.shutdown()
