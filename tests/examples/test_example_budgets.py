"""Every shipped example bounds compute: its initial program passes within the budget, and
each evaluator asks for one (a query budget or a CPU budget), so "run longer" cannot score.
The budgets' mechanics are tested in tests/sandbox; here, that the examples use them."""
from __future__ import annotations

import re

import pytest
from example_helpers import EXAMPLES, initial

SELF_IMPROVE = ["self_improve/tasks/cubic_root", "self_improve/tasks/fit_line",
                "self_improve/tasks/knapsack", "self_improve/tasks/max_product"]


@pytest.mark.parametrize("task", ["circle_packing", *SELF_IMPROVE])
def test_initial_programs_pass_within_their_cpu_budget(evaluate, task):
    ev = evaluate(task, initial(task))
    assert ev.status == "ok", ev.reason


def test_every_candidate_call_has_a_budget():
    """Each `candidate.call/run/interact` in an example's evaluator names a CPU or query budget
    (the contests get theirs from evoforge.contest.runner, corewar runs no candidate code)."""
    calls = 0
    for path in sorted(EXAMPLES.glob("**/evaluate.py")):
        text = path.read_text()
        for match in re.finditer(r"candidate\.(call|run|interact)\((.*?)\)\n", text, re.S):
            calls += 1
            assert "cpu_budget_s" in match.group(2) or "max_queries" in match.group(2), \
                f"{path.relative_to(EXAMPLES)}: {match.group(0)[:80]} has no budget"
    assert calls >= 8
    runner = (EXAMPLES.parents[0] / "src/evoforge/contest/runner.py").read_text()
    assert runner.count("cpu_budget_s=") >= 2


def test_every_example_readme_says_what_bounds_compute():
    folders = [p.parent for p in EXAMPLES.glob("*/task.yaml")] + [EXAMPLES / "self_improve",
                                                                 EXAMPLES / "coding_bench"]
    for folder in folders:
        readme = folder / "README.md"
        assert readme.is_file(), f"{folder.name} has no README"
        text = readme.read_text().lower()
        assert "bounds compute" in text, f"{folder.name}/README.md does not say what bounds compute"
