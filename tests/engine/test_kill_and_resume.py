"""kill -9 at a random moment during a run, then `evoforge resume` completes the budget and
nothing committed is lost."""
from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evoforge.cli import main
from evoforge.storage import open_storage

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM attempts WHERE status != 'pending'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


@pytest.mark.parametrize("kill_after", [2, 5])
def test_kill_then_resume_completes_budget(value_task, model_spec, tmp_path, kill_after):
    run_dir = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": SRC}
    cmd = [sys.executable, "-m", "evoforge", "run", str(value_task), "--llm", model_spec, "--budget", "10",
           "--run-dir", str(run_dir), "--quiet", "--workers", "2"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 60
    while _count(run_dir / "run.db") < kill_after and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    time.sleep(random.random() * 0.2)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # it finished first (a fast machine, or the counts were unreadable meanwhile)
        pass
    proc.wait()
    before = _count(run_dir / "run.db")
    assert before >= kill_after

    assert main(["resume", str(run_dir), "--quiet"]) == 0
    s = open_storage(f"sqlite:///{run_dir / 'run.db'}", read_only=True)
    run = s.list_runs()[0]
    attempts = s.attempts(run.id)
    usage = s.usage_totals(run.id)
    s.close()
    assert usage["calls"] == 10
    assert all(a.status.value != "pending" for a in attempts)
    assert len(attempts) >= before
    indexes = [a.proposal_index for a in attempts]
    assert len(indexes) == len(set(indexes))
