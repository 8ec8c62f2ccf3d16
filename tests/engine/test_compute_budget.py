"""CPU budgets, enforced by the trusted side (issue 15, part 2).

A call over its budget is killed on crossing it and raises `CandidateBudgetExceeded`; uncaught,
the attempt is invalid with the figures in its reason; ``evaluator.cpu_budget_s`` bounds every
call of one evaluation together. Real subprocesses and sandboxes; only CPU-time facts are
asserted (a loop that would need 30 s of CPU was stopped far short of it), never wall time.
"""
from __future__ import annotations

import json
import math
import sys
import textwrap

import pytest

import evoforge
from evoforge.program import AttemptStatus
from evoforge.sandbox import (
    Candidate,
    CandidateBudgetExceeded,
    CandidateError,
    SandboxLimits,
    evaluate_code,
)
from evoforge.sandbox.isolation import IsolationLevel, probe
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import write_task

LEVELS = [level for level in IsolationLevel if probe(level)]
LOOP = textwrap.dedent('''
    import os
    import resource
    import signal
    import time


    def solve(n):
        """Work proportional to n: the loop count an inflating edit raises."""
        x = 0
        for i in range(n):
            x += i % 7
        return x


    def spin(cpu_s):
        while time.process_time() < cpu_s:
            pass
        return cpu_s


    def forks(children):
        """Several processes, each far under the per-process CPU limit for a while."""
        for _ in range(children):
            if os.fork() == 0:
                while True:
                    pass
        while True:
            pass


    def unbounded():
        """Tries to lift every CPU limit it can reach from inside the sandbox."""
        signal.signal(signal.SIGXCPU, signal.SIG_IGN)
        try:
            resource.setrlimit(resource.RLIMIT_CPU, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        except (ValueError, OSError):
            soft, hard = resource.getrlimit(resource.RLIMIT_CPU)
            resource.setrlimit(resource.RLIMIT_CPU, (hard, hard))
        while True:
            pass
''')
# a loop of 10**9 iterations needs about a minute of CPU here: far more than any budget below
INFLATED = 10 ** 9


@pytest.fixture(params=LEVELS, ids=lambda lv: lv.name.lower())
def cand(request):
    with Candidate.create(LOOP, isolation=request.param) as c:
        yield c


def test_an_inflated_loop_is_stopped_at_its_call_budget(cand):
    assert cand.call("solve", 20, timeout=60, cpu_budget_s=0.3) == sum(i % 7 for i in range(20))
    with pytest.raises(CandidateBudgetExceeded) as info:
        cand.call("solve", INFLATED, timeout=300, cpu_budget_s=0.3)
    exc = info.value
    assert isinstance(exc, CandidateError) and exc.scope == "call" and exc.budget_s == 0.3
    # killed as it crossed the budget: nowhere near the minute of CPU the loop needed
    assert 0.3 < exc.cpu_s < 3.0 and exc.cpu_s == cand.last_cost.cpu_s
    assert exc.summary.startswith(f"solve() used {exc.cpu_s:.3g} s CPU, budget 0.3 s")
    assert "process tree was killed" in exc.summary


def test_a_tree_of_processes_is_held_to_one_budget(cand):
    # each of 4 processes stays far below its own RLIMIT_CPU (2 s): only the tree's sum crosses
    with pytest.raises(CandidateBudgetExceeded) as info:
        cand.call("forks", 3, timeout=300, cpu_budget_s=0.5)
    assert info.value.cpu_s < 4 * 2.0


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.name.lower())
def test_the_tree_budget_holds_without_cgroups(level):
    with Candidate.create(LOOP, isolation=level, limits=SandboxLimits(use_cgroups=False)) as c:
        with pytest.raises(CandidateBudgetExceeded) as info:
            c.call("forks", 3, timeout=300, cpu_budget_s=0.5)
    assert info.value.cpu_s < 4 * 2.0


def test_candidate_code_cannot_lift_its_budget(cand):
    with pytest.raises(CandidateBudgetExceeded) as info:
        cand.call("unbounded", timeout=300, cpu_budget_s=0.3)
    assert info.value.cpu_s < 3.0


def test_the_evaluation_budget_covers_all_calls_together():
    with Candidate.create(LOOP, isolation="auto", cpu_budget_s=1.0) as c:
        assert c.cpu_budget_s == 1.0
        c.call("spin", 0.4, timeout=120)                 # ~0.45 s with start-up
        with pytest.raises(CandidateBudgetExceeded) as info:
            for _ in range(3):                          # the 2nd or 3rd call crosses the 1 s
                c.call("spin", 0.4, timeout=120, cpu_budget_s=5.0)  # a call cannot raise it
        exc = info.value
        assert exc.scope == "evaluation" and exc.budget_s < 1.0
        assert "evaluator.cpu_budget_s = 1 s for the whole evaluation" in exc.summary
        assert c.total_cost.cpu_s > 1.0
        with pytest.raises(CandidateBudgetExceeded, match="was not started"):
            c.call("solve", 1, timeout=60)                  # nothing is left: not even started
        assert c.total_cost.calls == c.n_calls


def test_run_is_held_to_its_budget_too():
    spin = "while True:\n    pass\n"
    with Candidate.create(spin, filename="prog.py") as c:
        with pytest.raises(CandidateBudgetExceeded, match=r"the command '.*' used .* CPU, budget 0.3 s"):
            c.run([sys.executable, "{program}"], timeout=300, cpu_budget_s=0.3)
        assert c.last_cost.cpu_s < 3.0


@pytest.mark.parametrize("value, error, message", [
    (-1, ValueError, "cpu_budget_s must be a positive, finite number of CPU seconds, got -1"),
    (0, ValueError, "got 0"),
    (float("nan"), ValueError, "got nan"),
    (float("inf"), ValueError, "got inf"),
    ("0.5", TypeError, "cpu_budget_s must be a number of CPU seconds, got '0.5'"),
    (True, TypeError, "got True"),
])
def test_a_bad_budget_is_a_clear_error(value, error, message):
    with Candidate.create(LOOP) as c:
        with pytest.raises(error, match=message):
            c.call("solve", 1, timeout=60, cpu_budget_s=value)
        with pytest.raises(error, match=message):
            c.run(["true"], timeout=60, cpu_budget_s=value)
        assert c.n_calls == 0                      # refused before anything ran
    with pytest.raises(error, match=message):
        Candidate.create(LOOP, cpu_budget_s=value)


# -- through the evaluator host ------------------------------------------------------------
def _task(tmp_path, evaluate: str):
    return write_task(tmp_path / "t", initial=LOOP, evaluate=textwrap.dedent(evaluate))


def test_an_uncaught_budget_exception_makes_the_evaluation_invalid(tmp_path):
    task = _task(tmp_path, '''
        from evoforge import Result
        def evaluate(candidate):
            candidate.call("solve", 10**9, timeout=300, cpu_budget_s=0.3)
            return Result(score=1.0)
    ''')
    ev = evaluate_code(task, LOOP, timeout=600)
    assert ev.status == "invalid", ev.reason
    assert ev.reason.startswith("solve() used ") and "budget 0.3 s" in ev.reason
    assert ev.cost is not None and ev.cost.calls == 1 and 0.3 < ev.cost.cpu_s < 3.0


def test_the_evaluation_budget_holds_even_when_the_evaluator_catches_the_exception(tmp_path):
    task = _task(tmp_path, '''
        from evoforge import CandidateBudgetExceeded, Result
        def evaluate(candidate):
            try:
                candidate.call("solve", 10**9, timeout=300)
            except CandidateBudgetExceeded as exc:
                return Result(score=2.0, metrics={"caught": exc.scope})
            return Result(score=3.0)
    ''')
    ev = evaluate_code(task, LOOP, timeout=600, cpu_budget_s=0.4)
    assert ev.status == "invalid" and ev.score is None
    assert "(evaluator.cpu_budget_s)" in ev.reason and "budget 0.4 s" in ev.reason
    assert ev.result is not None and ev.result.valid is False and ev.result.metrics == {"caught": "evaluation"}


def test_the_evaluator_reads_last_cost_and_the_host_reports_the_total(tmp_path):
    task = _task(tmp_path, '''
        from evoforge import Result
        def evaluate(candidate):
            candidate.call("spin", 0.3, timeout=120)
            first = candidate.last_cost
            candidate.call("solve", 10, timeout=60)
            return Result(score=1.0, metrics={"cpu_s": first.cpu_s, "calls": candidate.total_cost.calls})
    ''')
    ev = evaluate_code(task, LOOP, timeout=600, cpu_budget_s=30)
    assert ev.status == "ok", ev.reason
    assert ev.result.metrics["cpu_s"] >= 0.3 and ev.result.metrics["calls"] == 2
    assert ev.cost.calls == 2 and ev.cost.cpu_s > ev.result.metrics["cpu_s"]
    assert type(ev).from_json(json.loads(json.dumps(ev.to_json()))).cost == ev.cost


def test_a_bad_budget_for_the_host_is_a_clear_error(tmp_path):
    task = _task(tmp_path, "from evoforge import Result\ndef evaluate(c):\n    return Result(score=1.0)\n")
    with pytest.raises(ValueError, match="cpu_budget_s must be a positive"):
        evaluate_code(task, LOOP, cpu_budget_s=-2)


# -- a whole run ---------------------------------------------------------------------------
RUN_INITIAL = '''\
import math


# EVOLVE-BLOCK-START
def best_value():
    """Sample a bumpy function; more samples find a better one."""
    best = -1.0
    for i in range(20):
        best = max(best, math.sin(i * 0.7311) * math.cos(i * 0.1123))
    return best
# EVOLVE-BLOCK-END
'''
RUN_EVALUATE = '''\
from evoforge import Result


def evaluate(candidate):
    value = candidate.call("best_value", timeout=600)
    return Result(score=float(value), metrics={"cpu_s_seen_by_evaluator": candidate.last_cost.cpu_s})
'''


def _loop_edit(old: str, new: str) -> str:
    return f"<<<<<<< SEARCH\n    for i in range({old}):\n=======\n    for i in range({new}):\n>>>>>>> REPLACE\n"


def test_a_run_marks_the_inflated_child_invalid_and_stores_every_cost(tmp_path):
    task = write_task(tmp_path / "task", initial=RUN_INITIAL, evaluate=RUN_EVALUATE,
                      yaml="name: sampler\ndescription: Find a larger value.\nevaluator:\n  cpu_budget_s: 1.0\n")
    script = [_loop_edit("20", str(INFLATED)), _loop_edit("20", "40")]
    with ScriptedOpenAIServer(script) as srv:
        result = evoforge.run(task, llm=f"openai/s@{srv.base_url}", budget=2, run_dir=tmp_path / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.islands": 1,
                                         "search.parent_selection": "best"})
    store = open_storage(result.storage_url, read_only=True)
    try:
        initial, inflated, honest = sorted(store.attempts(result.run_id), key=lambda a: a.proposal_index)
    finally:
        store.close()
    assert initial.status is AttemptStatus.OK and honest.status is AttemptStatus.OK
    assert inflated.status is AttemptStatus.INVALID and inflated.score is None
    assert inflated.reason.startswith("best_value() used ") and "budget " in inflated.reason
    assert "evaluator.cpu_budget_s" in inflated.reason
    for a in (initial, inflated, honest):
        cost = a.metrics["compute"]
        assert cost["calls"] == 1 and cost["cpu_s"] > 0 and cost["wall_s"] > 0
    assert inflated.metrics["compute"]["cpu_s"] > 1.0 > initial.metrics["compute"]["cpu_s"]
    # the evaluator's own reading of last_cost is the same measurement
    assert math.isclose(honest.metrics["cpu_s_seen_by_evaluator"], honest.metrics["compute"]["cpu_s"],
                        rel_tol=1e-6, abs_tol=1e-6)
