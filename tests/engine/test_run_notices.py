"""What a run says at start, from a fresh process as a user sees it: the sandbox line exactly once
(it was printed twice, once by the logger and once by the console)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import increment_responder

SRC = str(Path(__file__).resolve().parents[2] / "src")


@pytest.mark.parametrize("isolation", ["auto", "none"])
def test_the_sandbox_line_is_said_once(value_task, tmp_path, isolation):
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        proc = subprocess.run(
            [sys.executable, "-m", "evoforge", "run", str(value_task), "--llm", f"openai/s@{srv.base_url}",
             "--budget", "1", "--run-dir", str(tmp_path / "run"), "--set", f"evaluator.isolation={isolation}"],
            capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SRC, "COLUMNS": "100"}, timeout=600)
    assert proc.returncode == 0, proc.stderr
    said = [ln for ln in (proc.stdout + proc.stderr).splitlines() if "sandbox:" in ln]
    assert len(said) == 1, said
    if isolation == "none":
        assert "NO ISOLATION" in said[0]
