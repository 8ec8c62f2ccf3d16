"""End to end across machines' worth of parts, on one machine: whole runs with evaluations on a
real Ray cluster and every attempt in a real PostgreSQL server."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import evoforge
from evoforge.cli import main
from evoforge.program import AttemptStatus
from evoforge.storage import open_storage

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
NO_MODEL = "openai/none@http://127.0.0.1:9/v1"


def _attempts(url: str, run_id: str):
    s = open_storage(url, read_only=True)
    try:
        return s.attempts(run_id)
    finally:
        s.close()


def test_cli_run_with_the_ray_executor(tmp_path):
    """The command from the guide, in a fresh process that starts (and stops) its own cluster."""
    pytest.importorskip("ray")
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "evoforge", "run", str(ROOT / "examples" / "function_minimization"),
           "--executor", "ray", "--llm", NO_MODEL, "--set", "mutation.weights={perturb: 1.0}",
           "--set", "budget.llm_calls=null", "--set", "budget.proposals=10", "--quiet", "--run-dir", str(run_dir)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                         env={**os.environ, "RAY_ADDRESS": ""})
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-3000:]
    db = open_storage(str(run_dir / "run.db"), read_only=True)
    try:
        run = db.list_runs()[-1]
        attempts = db.attempts(run.id)
    finally:
        db.close()
    assert len(attempts) == 11 and attempts[0].status is AttemptStatus.OK
    assert all(a.status is not AttemptStatus.PENDING for a in attempts)
    assert (run_dir / "best.py").is_file()


def test_python_run_on_postgres_with_ray(ray_cluster, postgres_url, value_task, model_spec, tmp_path, capsys):
    result = evoforge.run(value_task, llm=model_spec, budget=4, storage=postgres_url, executor="ray",
                          run_dir=tmp_path / "run", overrides={"mutation.weights": {"diff": 1.0}})
    assert result.storage_url == postgres_url and result.best is not None and result.best.score >= 2.0
    attempts = _attempts(postgres_url, result.run_id)
    assert len(attempts) == 5 and attempts[0].mutation == "initial"
    assert not (tmp_path / "run" / "run.db").exists()  # everything went to PostgreSQL
    # the run folder remembers its storage URL: resume and the read commands find the run there
    again = evoforge.resume(tmp_path / "run", budget=6, executor="ray")
    assert again.run_id == result.run_id and len(_attempts(postgres_url, result.run_id)) == 7
    assert main(["best", str(tmp_path / "run")]) == 0
    assert "VALUE" in capsys.readouterr().out


def test_python_run_on_postgres_with_local_executor(postgres_url, value_task, tmp_path):
    result = evoforge.run(value_task, llm=NO_MODEL, storage=postgres_url, run_dir=tmp_path / "run",
                          overrides={"mutation.weights": {"perturb": 1.0}, "budget.llm_calls": None,
                                     "budget.proposals": 6})
    attempts = _attempts(postgres_url, result.run_id)
    assert len(attempts) == 7 and all(a.model is None for a in attempts)
    s = open_storage(postgres_url, read_only=True)
    try:
        assert s.usage_totals(result.run_id)["calls"] == 0
        assert s.get_state(result.run_id, "kinds") is not None  # the engine's state was saved there too
    finally:
        s.close()
