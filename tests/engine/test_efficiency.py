"""Sample efficiency is reported per model call and per evaluation: what a run spent before it
first reached its best score (in the result's stats, the CLI's summary and the report)."""
from __future__ import annotations

import itertools
import re

import evoforge
from evoforge.cli import main
from evoforge.testing.openai_server import ScriptedOpenAIServer


def _two_improvements_then_nonsense():
    counter = itertools.count(1)

    def respond(request: dict) -> str:
        n = next(counter)
        text = "\n".join(m.get("content") or "" for m in request["messages"])
        current = re.findall(r"VALUE = ([0-9.]+)", text)[0]
        if n > 2:
            return "I am not sure what to change."
        return f"<<<<<<< SEARCH\n    VALUE = {current}\n=======\n    VALUE = {10.0 * n}\n>>>>>>> REPLACE\n"
    return respond


def test_best_after_counts_calls_evaluations_and_proposals(value_task, tmp_path):
    with ScriptedOpenAIServer(responder=_two_improvements_then_nonsense()) as srv:
        result = evoforge.run(value_task, llm=f"openai/m@{srv.base_url}", budget=5, run_dir=tmp_path / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "mutation.diff_retries": 0})
    assert result.best.score == 20.0
    assert result.stats["best_after"] == {"proposals": 2, "model_calls": 2, "evaluations": 3}
    assert result.stats["llm_calls"] == 5


def test_operator_runs_reach_their_best_with_no_model_call(value_task, tmp_path):
    result = evoforge.run(value_task, llm="openai/none@http://127.0.0.1:9/v1", run_dir=tmp_path / "r",
                          overrides={"mutation.weights": {"perturb": 1.0}, "budget.llm_calls": None,
                                     "budget.proposals": 10})
    after = result.stats["best_after"]
    assert after["model_calls"] == 0 and 1 <= after["evaluations"] <= 11 and after["proposals"] <= 10


def test_cli_summary_prints_it(value_task, tmp_path, capsys):
    with ScriptedOpenAIServer(responder=_two_improvements_then_nonsense()) as srv:
        code = main(["run", str(value_task), "--quiet", "--llm", f"openai/m@{srv.base_url}", "--budget", "4",
                     "--run-dir", str(tmp_path / "r"), "--set", "mutation.weights={diff: 1}",
                     "--set", "mutation.diff_retries=0"])
    assert code == 0
    assert "best first reached after 2 proposals: 2 model calls, 3 evaluations" in capsys.readouterr().out
