"""examples/function_minimization as a counted-query task: the candidate learns f only through
the evaluator, 100 queries per hidden instance, so only a better algorithm scores better.
Every program here runs through the real evaluator host and the real sandbox."""
from __future__ import annotations

from example_helpers import initial

TASK = "function_minimization"
GLOBAL_MIN = -1.5187

GRID = """
def search(f, budget, seed):
    # brute force: an evenly spaced grid that spends the whole budget
    n = int(budget ** 0.5)
    best = None
    for i in range(n):
        for j in range(n):
            x, y = -5 + 10 * i / (n - 1), -5 + 10 * j / (n - 1)
            v = f(x, y)
            if best is None or v < best[0]:
                best = (v, x, y)
    return best[1], best[2]
"""

SMARTER = """
import random

def search(f, budget, seed):
    # explore a coarse grid, then refine the 3 best points with shrinking steps
    rng = random.Random(seed)
    pts = []
    n = 5
    for i in range(n):
        for j in range(n):
            x, y = -4 + 8 * i / (n - 1), -4 + 8 * j / (n - 1)
            pts.append((f(x, y), x, y))
    pts.sort()
    left = budget - n * n
    per = left // 3
    for v, x, y in pts[:3]:
        step = 1.0
        best = (v, x, y)
        for _ in range(per):
            nx = min(5.0, max(-5.0, best[1] + rng.gauss(0, step)))
            ny = min(5.0, max(-5.0, best[2] + rng.gauss(0, step)))
            nv = f(nx, ny)
            if nv < best[0]:
                best = (nv, nx, ny)
            else:
                step *= 0.9
"""

MORE_QUERIES = initial(TASK).replace("range(budget)", "range(199250)")


def test_initial_program_is_valid_and_scored(evaluate):
    ev = evaluate(TASK, initial(TASK))
    assert ev.status == "ok", ev.reason
    assert GLOBAL_MIN + 0.5 < ev.score < -0.3  # weak, with room for a better algorithm
    assert ev.result.metrics["queries"] == 2000
    assert "2000 queries used (100 allowed per instance)" in ev.result.feedback


def test_evaluator_is_deterministic(evaluate):
    first, second = evaluate(TASK, initial(TASK)), evaluate(TASK, initial(TASK))
    assert first.status == second.status == "ok"
    assert first.score == second.score and first.result.feedback == second.result.feedback


def test_brute_force_loses_to_a_better_search_with_equal_queries(evaluate):
    grid, smarter = evaluate(TASK, GRID), evaluate(TASK, SMARTER)
    assert grid.status == smarter.status == "ok", (grid.reason, smarter.reason)
    assert grid.result.metrics["queries"] == smarter.result.metrics["queries"] == 2000
    assert smarter.score < grid.score - 0.1
    assert smarter.score < evaluate(TASK, initial(TASK)).score


def test_more_function_evaluations_are_refused_not_rewarded(evaluate):
    """The old example's winning edit (20 -> 199250 evaluations) is now simply invalid."""
    ev = evaluate(TASK, MORE_QUERIES)
    assert ev.status == "invalid"
    assert "exceeded its query budget (101 > 100) in search()" in ev.reason


def test_the_minimum_cannot_be_hard_coded(evaluate):
    """The unshifted function's minimiser is a poor guess: each instance is moved and turned."""
    code = "def search(f, budget, seed):\n    f(-1.7041, 0.6775)\n    return -1.7041, 0.6775\n"
    ev = evaluate(TASK, code)
    assert ev.status == "ok" and ev.score > GLOBAL_MIN + 0.5


def test_bad_queries_are_invalid_with_the_reason(evaluate):
    ev = evaluate(TASK, "def search(f, budget, seed):\n    f(0.0, 7.5)\n")
    assert ev.status == "invalid" and "y=7.5 is outside the box [-5, 5]" in ev.reason
    ev = evaluate(TASK, "def search(f, budget, seed):\n    return 0.0, 0.0\n")
    assert ev.status == "invalid" and "never queried the oracle in search()" in ev.reason
    ev = evaluate(TASK, "def search(f, budget, seed):\n    f('0', 1)\n")
    assert ev.status == "invalid" and "x must be a number, got str" in ev.reason


def test_compute_between_queries_is_bounded_too(evaluate):
    """Thinking between queries is allowed, up to a CPU budget per instance (5 s) and a wall
    limit (10 s): a candidate that spins is stopped by whichever comes first (on a loaded
    machine it may get less than 5 s of CPU in 10 s), with the reason."""
    code = "def search(f, budget, seed):\n    f(0.0, 0.0)\n    while True:\n        pass\n"
    ev = evaluate(TASK, code)
    if ev.status == "timeout":
        assert "stopped answering: timed out after 10.0s in search() after 1 query" in ev.reason
    else:
        assert ev.status == "invalid", (ev.status, ev.reason)
        assert "search() used" in ev.reason and "budget 5 s" in ev.reason
