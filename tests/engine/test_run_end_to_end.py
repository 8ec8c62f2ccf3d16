"""End to end: a real run against a real local OpenAI-protocol server, real subprocess
evaluations and a real SQLite file."""
from __future__ import annotations

import json


import evoforge
from evoforge.cli import main
from evoforge.program import AttemptStatus
from evoforge.storage import open_storage

ONLY_DIFF = {"mutation.weights": {"diff": 1.0}}


def _attempts(result):
    s = open_storage(result.storage_url, read_only=True)
    try:
        return s.attempts(result.run_id), s.usage_totals(result.run_id)
    finally:
        s.close()


def test_run_improves_and_respects_budget(value_task, model_spec, tmp_path):
    result = evoforge.run(value_task, llm=model_spec, budget=6, run_dir=tmp_path / "run", overrides=ONLY_DIFF)
    attempts, usage = _attempts(result)
    assert usage["calls"] == 6
    assert result.best is not None and result.best.score >= 3.0
    assert attempts[0].mutation == "initial" and attempts[0].score == 1.0
    programs = [a for a in attempts if a.status is AttemptStatus.OK]
    assert all(a.parent_id for a in programs[1:])
    assert (tmp_path / "run" / "best.py").read_text() == result.best.code
    assert all(a.status is not AttemptStatus.PENDING for a in attempts)


def test_operators_only_run_needs_no_model(value_task, tmp_path):
    result = evoforge.run(value_task, llm="openai/none@http://127.0.0.1:9/v1", run_dir=tmp_path / "r",
                          overrides={"mutation.weights": {"perturb": 1.0}, "budget.llm_calls": None, "budget.proposals": 8})
    attempts, usage = _attempts(result)
    assert usage["calls"] == 0
    assert len(attempts) == 9  # the initial program + 8 proposals
    assert all(a.model is None for a in attempts)


def test_garbage_replies_are_recorded_and_the_run_goes_on(value_task, llm_server, model_spec, tmp_path):
    llm_server.push("", "Sure! Here is a poem about trees.", "<<<<<<< SEARCH\nno such line\n=======\nx\n>>>>>>> REPLACE")
    result = evoforge.run(value_task, llm=model_spec, budget=6, run_dir=tmp_path / "r",
                          overrides={**ONLY_DIFF, "mutation.diff_retries": 0})
    attempts, usage = _attempts(result)
    failed = [a for a in attempts if a.status in (AttemptStatus.PARSE_FAILED, AttemptStatus.APPLY_FAILED, AttemptStatus.LLM_ERROR)]
    assert len(failed) >= 2  # an empty reply may be retried inside the call by the retry layer
    assert all(a.reason for a in failed)
    assert usage["calls"] == 6
    assert result.best.score > 1.0


def test_candidate_failures_are_recorded(tmp_path, model_spec):
    from evoforge.testing.tasks import write_task

    def task(name, body):
        initial = f"# EVOLVE-BLOCK-START\ndef value():\n    VALUE = 1.0\n{body}\n# EVOLVE-BLOCK-END\n"
        return write_task(tmp_path / name, initial=initial)

    crash = task("crash", "    return VALUE / 0")
    nan = task("nan", "    return float('nan') * VALUE")
    hang = task("hang", "    while True:\n        pass")
    (hang / "task.yaml").write_text("name: hang\nevaluator: {timeout: 3}\n")
    for folder, status, words in [(crash, AttemptStatus.ERROR, "ZeroDivisionError"),
                                  (nan, AttemptStatus.INVALID, "not finite"),
                                  (hang, AttemptStatus.TIMEOUT, "")]:
        result = evoforge.run(folder, llm=model_spec, budget=0, run_dir=tmp_path / f"run-{folder.name}")
        attempts, _ = _attempts(result)
        assert attempts[0].status is status, (folder.name, attempts[0].reason)
        assert words in attempts[0].reason
        assert result.best is None


def test_cli_commands(value_task, model_spec, tmp_path, capsys):
    run_dir = tmp_path / "cli-run"
    assert main(["run", str(value_task), "--llm", model_spec, "--budget", "3", "--run-dir", str(run_dir),
                 "--quiet", "--set", "mutation.weights={diff: 1.0}"]) == 0
    out = capsys.readouterr().out
    assert "best score" in out
    assert main(["best", str(run_dir)]) == 0
    best_code = capsys.readouterr().out
    assert "def value" in best_code
    assert main(["export", str(run_dir)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(rows) >= 4
    for key in ("id", "parent_id", "generation", "status", "score", "reason", "code", "input_tokens", "output_tokens"):
        assert key in rows[0]
    child = next(r for r in rows if r["parent_id"])
    assert main(["show", str(run_dir), child["id"][:10]]) == 0
    shown = capsys.readouterr().out
    assert "diff against parent" in shown and "VALUE" in shown
    assert main(["export", f"sqlite:///{run_dir / 'run.db'}"]) == 0


def test_resume_with_larger_budget(value_task, model_spec, tmp_path):
    first = evoforge.run(value_task, llm=model_spec, budget=2, run_dir=tmp_path / "r", overrides=ONLY_DIFF)
    second = evoforge.resume(first.run_dir, budget=5)
    attempts, usage = _attempts(second)
    assert usage["calls"] == 5
    assert second.best.score >= first.best.score
    third = evoforge.resume(first.run_dir)  # the larger budget stays: nothing more to do
    assert _attempts(third)[1]["calls"] == 5


def test_broken_edit_is_retried_and_kept(value_task, tmp_path):
    from evoforge.testing.openai_server import ScriptedOpenAIServer

    broken = "<<<<<<< SEARCH\n    VALUE = 1.0\n=======\n    VALUE = (1.0\n>>>>>>> REPLACE\n"
    fixed = "<<<<<<< SEARCH\n    VALUE = 1.0\n=======\n    VALUE = 4.0\n>>>>>>> REPLACE\n"
    broken4 = broken.replace("1.0", "4.0")
    with ScriptedOpenAIServer([broken, fixed, broken4, broken4]) as srv:
        result = evoforge.run(value_task, llm=f"openai/s@{srv.base_url}", budget=4, run_dir=tmp_path / "r",
                              overrides={**ONLY_DIFF, "search.parent_selection": "best", "search.islands": 1})
        retry_prompt = srv.requests[1]["messages"][-1]["content"]
        temps = [r["temperature"] for r in srv.requests]
    attempts, usage = _attempts(result)
    assert "does not parse" in retry_prompt  # the model is told why, in the same conversation
    assert temps[1] > temps[0]
    fixed_attempt, repeated = attempts[1], attempts[2]
    assert fixed_attempt.status is AttemptStatus.OK and fixed_attempt.score == 4.0
    assert "--- retry 1 ---" in fixed_attempt.response
    assert repeated.status is AttemptStatus.SYNTAX_ERROR and "retry repeated the same reply" in repeated.reason
    assert "VALUE = (4.0" in repeated.code  # what the model wrote is kept
    assert usage["calls"] == 4
