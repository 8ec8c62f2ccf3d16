"""`evaluator.warm` reaches the sandbox of a real run: the evaluator reports how many of the
candidate's calls were forked from a warm zygote (`Candidate.n_warm_calls`)."""
from __future__ import annotations

import pytest

import evoforge
from evoforge.sandbox import warm
from evoforge.sandbox.isolation import IsolationLevel
from evoforge.storage import open_storage
from evoforge.testing.tasks import write_task

EVALUATE = '''\
from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    v = candidate.call("value", timeout=30)
    return Result(score=float(v), metrics={"warm_calls": candidate.n_warm_calls})
'''


@pytest.fixture(autouse=True)
def _restore_default():
    yield
    warm.set_enabled(None)
    warm.shutdown_all()


@pytest.mark.skipif(not warm.supported(IsolationLevel.LANDLOCK), reason="warm sandboxes need the landlock level")
@pytest.mark.parametrize("on", [False, True])
def test_the_config_switch_decides_warm_or_cold(tmp_path, on, monkeypatch):
    monkeypatch.setattr(warm, "_USER_ENV", None)   # as if the user had not set EVOFORGE_SANDBOX_WARM
    task = write_task(tmp_path / "task", evaluate=EVALUATE)
    result = evoforge.run(task, llm="embedded", budget=0, run_dir=tmp_path / "run",
                          overrides={"evaluator.isolation": "landlock", "evaluator.warm": on,
                                     "budget.proposals": 0, "mutation.weights": {"perturb": 1.0}})
    store = open_storage(result.storage_url, read_only=True)
    try:
        initial = next(a for a in store.attempts(result.run_id) if a.mutation == "initial")
    finally:
        store.close()
    assert initial.status.value == "ok"
    assert (initial.metrics["warm_calls"] > 0) is on


@pytest.mark.parametrize("on", [False, True])
def test_the_config_switch_decides_a_warm_or_cold_evaluator_host(tmp_path, on, monkeypatch):
    """`evaluator.warm_host`: with it, every evaluation of the run (the initial program and
    its children) is a fork of one host process; without it, each is a child of the engine."""
    import os

    from evoforge.sandbox import host_pool

    monkeypatch.delenv("EVOFORGE_WARM_HOST", raising=False)
    host_pool.shutdown_all()
    evaluate = EVALUATE.replace("from evoforge import Candidate, Result",
                                "import os\nfrom evoforge import Candidate, Result").replace(
        '"warm_calls": candidate.n_warm_calls', '"parent": os.getppid()')
    task = write_task(tmp_path / "task", evaluate=evaluate)
    try:
        result = evoforge.run(task, llm="embedded", budget=0, run_dir=tmp_path / "run",
                              overrides={"evaluator.warm_host": on, "budget.proposals": 3,
                                         "mutation.weights": {"perturb": 1.0}})
        store = open_storage(result.storage_url, read_only=True)
        try:
            parents = {a.metrics["parent"] for a in store.attempts(result.run_id)
                       if a.status.value == "ok"}
        finally:
            store.close()
    finally:
        host_pool.shutdown_all()
    assert parents
    if on:
        assert len(parents) == 1 and os.getpid() not in parents   # one host served them all
    else:
        assert parents == {os.getpid()}                           # each a child of the engine
