"""Every evaluated attempt keeps what its evaluation cost (issue 15): stored by the engine even
when the evaluator reports nothing, in both storage backends, shown by `evoforge show`,
exported by `evoforge export` and served to the dashboard."""
from __future__ import annotations

import http.client
import json

import pytest

import evoforge
from evoforge.cli import main
from evoforge.engine.compute import COST_KEY, cost_of
from evoforge.program import Attempt, AttemptStatus
from evoforge.sandbox import CallCost
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import write_task
from evoforge.ui.server import start_in_thread
from evoforge.ui.sources import RunRegistry

SPIN_INITIAL = '''\
import time


# EVOLVE-BLOCK-START
def value():
    SPIN = 0.3
    while time.process_time() < SPIN:
        pass
    return 1.0
# EVOLVE-BLOCK-END
'''
# The evaluator says nothing about cost: the engine stores the sandbox's measurement anyway.
EVALUATE = '''\
from evoforge import Result


def evaluate(candidate):
    return Result(score=float(candidate.call("value", timeout=600)) + candidate.call("value", timeout=600))
'''
EDIT = "<<<<<<< SEARCH\n    return 1.0\n=======\n    return 2.0\n>>>>>>> REPLACE\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cost_run")
    task = write_task(root / "task", initial=SPIN_INITIAL, evaluate=EVALUATE, yaml="name: spin\n")
    with ScriptedOpenAIServer([EDIT, "no edit here"]) as srv:
        result = evoforge.run(task, llm=f"openai/s@{srv.base_url}", budget=2, run_dir=root / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.islands": 1})
    store = open_storage(result.storage_url, read_only=True)
    try:
        attempts = sorted(store.attempts(result.run_id), key=lambda a: a.proposal_index)
    finally:
        store.close()
    return root / "r", result, attempts


def test_the_cost_of_every_evaluation_is_stored(run):
    _, _, attempts = run
    initial, child, unparsed = attempts
    assert unparsed.status is AttemptStatus.PARSE_FAILED and COST_KEY not in unparsed.metrics  # never ran
    for a in (initial, child):
        cost = cost_of(a)
        assert cost is not None and cost.calls == 2           # both calls of the evaluation
        assert cost.cpu_s >= 0.5 and cost.wall_s > 0           # each spun to 0.3 s of its own CPU
        assert cost.peak_memory_mb is not None and cost.peak_memory_mb > 1


def test_show_prints_the_cost(run, capsys):
    run_dir, _, attempts = run
    assert main(["show", str(run_dir), attempts[1].id]) == 0
    out = capsys.readouterr().out
    cost = cost_of(attempts[1])
    assert f"compute: {cost.describe()}\n" in out
    assert " s CPU, " in out and "2 calls" in out


def test_export_carries_the_cost(run, capsys):
    run_dir, _, attempts = run
    assert main(["export", str(run_dir)]) == 0
    rows = {r["id"]: r for r in map(json.loads, capsys.readouterr().out.splitlines())}
    for a in attempts[:2]:
        assert rows[a.id]["compute"] == a.metrics[COST_KEY]
        assert CallCost.from_json(rows[a.id]["compute"]) == cost_of(a)
    assert rows[attempts[2].id]["compute"] is None


def _get(server, path):
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=30)
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        return res.status, json.loads(res.read())
    finally:
        conn.close()


def test_the_dashboard_serves_the_cost(run):
    run_dir, result, attempts = run
    registry = RunRegistry([str(run_dir)])
    server = start_in_thread(registry)
    try:
        status, poll = _get(server, f"/api/runs/{result.run_id}/poll?since_index=0")
        assert status == 200
        rows = {r["id"]: r for r in poll["attempts"]}
        child = attempts[1]
        row = rows[child.id]
        assert row["cpu_s"] == pytest.approx(child.metrics[COST_KEY]["cpu_s"])
        assert row["metrics"]["compute.cpu_s"] == row["cpu_s"]          # plottable like a metric
        assert row["metrics"]["compute.peak_memory_mb"] == pytest.approx(child.metrics[COST_KEY]["peak_memory_mb"])
        assert rows[attempts[2].id]["cpu_s"] is None
        status, detail = _get(server, f"/api/runs/{result.run_id}/attempts/{child.id}")
        assert status == 200 and detail["compute"] == child.metrics[COST_KEY]
        assert detail["compute_inflation"] is None
    finally:
        server.shutdown()
        server.server_close()
        registry.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def storage(request, tmp_path):
    url = (f"sqlite:///{tmp_path / 'x.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    store = open_storage(url)
    yield store
    store.close()


def test_both_backends_keep_the_cost_exactly(storage):
    info = storage.create_run("r", {}, "/t")
    cost = CallCost(wall_s=1.25, cpu_s=0.731234, peak_memory_mb=48.5, calls=3)
    a = Attempt(run_id=info.id, code="x = 1", status=AttemptStatus.OK, score=1.0,
                metrics={COST_KEY: cost.to_json(), "value": 2})
    storage.save_attempt(a)
    back = storage.get_attempt(a.id)
    assert cost_of(back) == cost and back.metrics["value"] == 2
    light = storage.attempts(info.id, with_code=False)[0]
    assert cost_of(light) == cost
