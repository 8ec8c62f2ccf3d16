"""Executor test fixtures: one real local Ray cluster per session, task folders written on the
fly, and the PostgreSQL server shared with tests/storage (tests/storage/pg_server.py)."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "storage"))
from pg_server import postgres_server, postgres_url  # noqa: E402,F401  (fixtures, used by name)

CANDIDATE = "# EVOLVE-BLOCK-START\ndef value():\n    VALUE = 1.0\n    return VALUE\n# EVOLVE-BLOCK-END\n"


def make_task(root: Path, evaluate_body: str, *, initial: str = CANDIDATE, yaml: str = "") -> Path:
    """A task folder whose evaluate.py runs `evaluate_body` (indented into evaluate())."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "task.yaml").write_text(yaml or f"name: {root.name}\ndescription: test task\n")
    (root / "initial.py").write_text(initial)
    body = textwrap.indent(textwrap.dedent(evaluate_body).strip("\n"), "    ")
    (root / "evaluate.py").write_text(
        "import os, sys, time, signal\nfrom evoforge import Candidate, Result\n\n\n"
        f"def evaluate(candidate: Candidate) -> Result:\n{body}\n"
    )
    return root


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
