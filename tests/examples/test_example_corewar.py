"""examples/corewar: the evaluator on the initial warrior, on broken warriors, with history."""
from __future__ import annotations

import shutil

from example_helpers import EXAMPLES, initial

from evoforge.task import load_task

TASK = "corewar"


def test_task_loads():
    task = load_task(EXAMPLES / TASK)
    assert task.config.language == "redcode" and task.config.program == "warrior.red"


def test_initial_warrior_scores(evaluate):
    ev = evaluate(TASK, initial(TASK))
    assert ev.status == "ok", ev.reason
    assert 0 < ev.result.score < 1 and 0 <= ev.result.private_score <= 1
    m = ev.result.metrics
    assert m["opponents"] == 3 and m["wins"] + m["ties"] + m["losses"] == 12
    assert m["coverage"] > 100 and "vs dwarf" in ev.result.feedback


def test_a_stronger_warrior_scores_higher(evaluate):
    paper = (EXAMPLES / TASK / "opponents" / "paper.red").read_text()
    seed = evaluate(TASK, initial(TASK)).result.score
    assert evaluate(TASK, paper).result.score > seed


def test_python_instead_of_redcode_is_invalid(evaluate):
    ev = evaluate(TASK, "def warrior():\n    return 'MOV 0, 1'\n")
    assert ev.status == "invalid" and "does not assemble" in ev.reason and "line 1" in ev.reason


def test_too_long_and_unsupported_warriors_are_invalid(evaluate):
    ev = evaluate(TASK, "MOV 0, 1\n" * 101)
    assert ev.status == "invalid" and "maximum length 100" in ev.reason
    ev = evaluate(TASK, "FOR 200\nMOV 0, 1\nROF\n")
    assert ev.status == "invalid" and "FOR is not supported" in ev.reason


def test_expression_tricks_are_invalid_not_executed(evaluate):
    ev = evaluate(TASK, "x EQU __import__('os').system('true')\nDAT x, 0\n")
    assert ev.status == "invalid" and "unexpected character" in ev.reason
    ev = evaluate(TASK, "a EQU b\nb EQU a\nDAT a, 0\n")
    assert ev.status == "invalid" and "recursive" in ev.reason


def test_a_suicidal_warrior_is_valid_and_scores_zero(evaluate):
    ev = evaluate(TASK, "DAT 0, 0\n")
    assert ev.status == "ok" and ev.result.score == 0.0


def test_history_champions_become_opponents(evaluate, tmp_path):
    task = tmp_path / "corewar"
    shutil.copytree(EXAMPLES / TASK, task)
    (task / "history").mkdir(exist_ok=True)
    (task / "history" / "round-00.red").write_text("SPL 0\nMOV 0, 1\n")
    ev = evaluate(task, initial(TASK), stage_args={"rounds": 2, "heldout": False})
    assert ev.status == "ok", ev.reason
    assert ev.result.metrics["opponents"] == 4 and ev.result.private_score is None
    assert "champion round-00" in ev.result.feedback
