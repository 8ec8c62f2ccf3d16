"""examples/contest_*: evaluators on the baselines, on broken and cheating solutions; the
shipped simulated-annealing references beat the baselines."""
from __future__ import annotations

import importlib.util
import shutil

import pytest
from example_helpers import EXAMPLES, initial

from evoforge.contest.problems import Placement, Routing

BASELINE = {"contest_routing": 486039.2, "contest_placement": 778928.8}


def load_module(task: str, name: str):
    spec = importlib.util.spec_from_file_location(f"{task}_{name}", EXAMPLES / task / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("task", ["contest_routing", "contest_placement"])
def test_baseline_scores_as_documented(evaluate, task):
    ev = evaluate(task, initial(task))
    assert ev.status == "ok", ev.reason
    assert ev.result.score == pytest.approx(BASELINE[task], abs=0.5)
    assert ev.result.private_score > 0 and "seed 1001" not in ev.result.feedback
    assert "seed 1: score" in ev.result.feedback


@pytest.mark.parametrize("task,problem", [("contest_routing", Routing()),
                                          ("contest_placement", Placement())])
def test_reference_sa_beats_the_baseline(task, problem):
    sa, base = load_module(task, "reference_sa"), load_module(task, "initial")
    inst = problem.generate(1)
    assert problem.score(inst, sa.solve(inst, seconds=0.3)) > problem.score(inst, base.solve(inst))


BROKEN_ROUTING = {
    "drops a customer": ("def solve(inst):\n    return [[c] for c in range(1, len(inst['customers']))]\n",
                         "invalid", "not visited"),
    "one big truck": ("def solve(inst):\n    return [list(range(len(inst['customers'])))]\n",
                      "invalid", "more than the capacity"),
    "bools as indices": ("def solve(inst):\n    return [[True]]\n", "invalid", "must be an integer"),
    "returns a string": ("def solve(inst):\n    return 'optimal'\n", "invalid", "must be a list"),
    "crashes": ("def solve(inst):\n    return inst['missing']\n", "error", "KeyError"),
    "too slow": ("import time\ndef solve(inst):\n    time.sleep(30)\n", "timeout", "timed out"),
    "no solve": ("def answer(inst):\n    return []\n", "error", "solve"),
}


@pytest.mark.parametrize("case", list(BROKEN_ROUTING))
def test_routing_rejects_broken_and_cheating_solutions(evaluate, case):
    code, status, needle = BROKEN_ROUTING[case]
    ev = evaluate("contest_routing", code)
    assert ev.status == status and needle in ev.reason, ev.reason


def test_placement_rejects_overlaps_and_reading_the_evaluator(evaluate):
    ev = evaluate("contest_placement", "def solve(inst):\n    return [[0, 0, 0] for _ in inst['rects']]\n")
    assert ev.status == "invalid" and "overlap" in ev.reason
    # the task folder (and its private seeds) is not visible inside the sandbox
    snoop = ("import pathlib\n"
             "def solve(inst):\n"
             f"    pathlib.Path({str(EXAMPLES / 'contest_placement' / 'evaluate.py')!r}).read_text()\n"
             "    return []\n")
    ev = evaluate("contest_placement", snoop)
    assert ev.status in ("error", "invalid")
    from evoforge.sandbox import detect_isolation
    if detect_isolation().name == "BWRAP":
        assert "FileNotFoundError" in ev.reason or "No such file" in ev.reason


needs_gpp = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


@needs_gpp
def test_cpp_baseline_matches_the_python_baseline(evaluate):
    ev = evaluate("contest_routing_cpp", initial("contest_routing_cpp"))
    assert ev.status == "ok", ev.reason
    assert ev.result.score == pytest.approx(BASELINE["contest_routing"], abs=0.5)


@needs_gpp
@pytest.mark.parametrize("code,status,needle", [
    ("int main() { return undeclared; }\n", "invalid", "compilation failed"),
    ("#include <cstdio>\nint main() { std::printf(\"1\\n1 0\\n\"); }\n", "invalid", "not visited"),
    ("int main() { volatile long x = 0; for (;;) x++; }\n", "timeout", "time limit"),
    ("#include <cstdlib>\nint main() { std::abort(); }\n", "error", "exited with code"),
])
def test_cpp_rejects_broken_programs(evaluate, code, status, needle):
    ev = evaluate("contest_routing_cpp", code)
    assert ev.status == status and needle in ev.reason, ev.reason
