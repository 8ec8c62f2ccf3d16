"""Several controller processes share one run through its storage, Optuna-style: each owns some
islands, proposal indices stay unique, the budget is shared, and good programs cross islands."""
from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import increment_responder

SRC = str(Path(__file__).resolve().parents[2] / "src")


def slow_increment(request):
    time.sleep(0.05)
    return increment_responder(request)


def _wait_for_run(db: Path, deadline: float) -> None:
    while time.time() < deadline:
        if db.exists():
            try:
                con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                n = con.execute("SELECT COUNT(*) FROM attempts").fetchone()[0]
                con.close()
                if n:
                    return
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    raise AssertionError("the first controller never started")


def test_two_controllers_share_one_run(value_task, tmp_path):
    env = {**os.environ, "PYTHONPATH": SRC}
    run_dir = tmp_path / "shared"
    second_joined = threading.Event()

    def respond(request):
        # The controllers name their models apart. After 4 calls the first waits for the second's
        # first call, so however slowly the second starts, it cannot find the budget spent.
        if request.get("model") == "second":
            second_joined.set()
        elif sum(1 for r in srv.requests if r.get("model") == "first") > 4:
            second_joined.wait(timeout=600)
        return slow_increment(request)

    with ScriptedOpenAIServer(responder=respond) as srv:
        common = ["--quiet", "--set", "mutation.weights={diff: 1.0}", "--set", "search.sync_interval_s=0.2",
                  "--set", "search.migration_interval=3"]
        first = subprocess.Popen([sys.executable, "-m", "evoforge", "run", str(value_task), "--budget", "16",
                                  "--llm", f"openai/first@{srv.base_url}", "--run-dir", str(run_dir),
                                  "--set", "search.own_islands=[0]", *common], env=env)
        _wait_for_run(run_dir / "run.db", time.time() + 600)  # only a hang ends here
        second = subprocess.run([sys.executable, "-m", "evoforge", "join", str(run_dir), "--islands", "1",
                                 "--llm", f"openai/second@{srv.base_url}", *common],
                                env=env, capture_output=True, text=True, timeout=900)
        assert first.wait(timeout=900) == 0
    assert second.returncode == 0, second.stderr
    s = open_storage(f"sqlite:///{run_dir / 'run.db'}", read_only=True)
    run = s.list_runs()[0]
    attempts = s.attempts(run.id)
    calls = s.usage_totals(run.id)["calls"]
    s.close()
    indexes = [a.proposal_index for a in attempts]
    assert len(indexes) == len(set(indexes))                 # unique across both controllers
    assert {a.island for a in attempts if a.mutation != "initial"} == {0, 1}
    assert 16 <= calls <= 18                                  # one shared budget (in-flight slack only)
    by_id = {a.id: a for a in attempts}
    crossed = [a for a in attempts if a.island == 1 and a.parent_id in by_id and by_id[a.parent_id].island == 0
               and by_id[a.parent_id].mutation != "initial"]
    assert crossed, "no program of island 0 was used on island 1: migration through storage did not happen"
    assert not [a for a in attempts if a.status.value == "pending"]
