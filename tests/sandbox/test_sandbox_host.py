"""evaluate_code: the trusted evaluator host, with real evaluate.py files."""
from __future__ import annotations

import sys
import tempfile

import pytest
from sandbox_helpers import (
    FIXTURES,
    HAS_BWRAP,
    kill_marked,
    new_marker,
    wait_gone,
    write_task,
)

from evoforge.errors import TaskError
from evoforge.sandbox import (
    Evaluation,
    IsolationLevel,
    Result,
    SandboxLimits,
    detect_isolation,
    evaluate_code,
    load_evaluator_check,
)

PY = sys.executable
SIMPLE = """
    from evoforge.sandbox import Candidate, Result

    def evaluate(candidate):
        v = candidate.call("value", timeout=20)
        return Result(score=v, feedback=f"value {v}", metrics={"v": v})
"""


@pytest.fixture
def simple_task(tmp_path):
    return write_task(tmp_path / "task", SIMPLE)


def test_ok(simple_task):
    ev = evaluate_code(simple_task, "def value():\n    print('hello from candidate')\n"
                                    "    return 2.5\n")
    assert ev.status == "ok" and ev.ok and ev.score == 2.5 and ev.reason == ""
    assert ev.result == Result(score=2.5, feedback="value 2.5", metrics={"v": 2.5},
                               artifacts={"candidate_stdout": "hello from candidate\n"})
    assert ev.artifacts == {"candidate_stdout": "hello from candidate\n"}
    assert ev.seconds > 0 and ev.isolation in ("bwrap", "landlock", "unshare", "none")
    assert Evaluation.from_json(ev.to_json()) == ev


@pytest.mark.parametrize("code, status, reason", [
    ("def value():\n    return float('nan')\n", "invalid", "score is not finite (NaN)"),
    ("def value():\n    return float('-inf')\n", "invalid", "score is not finite (-inf)"),
    ("def value():\n    return True\n", "invalid", "score is bool, expected a float"),
    ("def value():\n    return 'high'\n", "invalid", "score is str, expected a float"),
    ("def value():\n    x = 0\n    return 1 / x\n", "error",
     "candidate raised ZeroDivisionError: division by zero (line 3) in value()"),
    ("def valu():\n    return 1\n", "error", "the candidate program has no function 'value'"),
])
def test_candidate_outcomes(simple_task, code, status, reason):
    ev = evaluate_code(simple_task, code, timeout=60)
    assert (ev.status, ev.reason) == (status, reason)
    if status == "error":
        assert ev.result is None


def test_candidate_timeout_surfaces_as_timeout(tmp_path):
    task = write_task(tmp_path / "task", SIMPLE.replace("timeout=20", "timeout=1"))
    ev = evaluate_code(task, "def value():\n    while True:\n        pass\n", timeout=60)
    assert (ev.status, ev.reason) == ("timeout", "candidate timed out after 1.0s in value()")


def test_nan_result_keeps_the_result_but_marks_it_invalid(simple_task):
    ev = evaluate_code(simple_task, "def value():\n    return float('nan')\n")
    assert ev.result is not None and ev.result.valid is False and ev.score is None


def test_candidate_traceback_becomes_an_artifact(simple_task):
    ev = evaluate_code(simple_task, "def value():\n    print('before')\n    raise KeyError('k')\n")
    assert ev.status == "error" and ev.reason.startswith("candidate raised KeyError")
    assert "raise KeyError" in ev.artifacts["candidate_traceback"]
    assert ev.artifacts["candidate_stdout"] == "before\n"


@pytest.mark.parametrize("evaluate, status, reason", [
    ("def evaluate(candidate):\n    return 3\n", "error",
     "evaluate() returned int, expected evoforge.Result"),
    ("def evaluate(candidate):\n    pass\n", "error",
     "evaluate() returned None, expected evoforge.Result"),
    ("def evaluate(candidate):\n    x = {}\n    return x['missing']\n", "error",
     "evaluate() raised KeyError: 'missing' (evaluate.py line 3)"),
    ("from evoforge.sandbox import Result\n"
     "def evaluate(candidate):\n    return Result.invalid('circles overlap')\n",
     "invalid", "circles overlap"),
    ("import sys\ndef evaluate(candidate):\n    sys.exit(4)\n", "error",
     "evaluate() raised SystemExit: 4 (evaluate.py line 3)"),
    ("import os, signal\ndef evaluate(candidate):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
     "error", "the evaluator process died with SIGSEGV"),
    ("import os\ndef evaluate(candidate):\n    os._exit(3)\n", "error",
     "the evaluator process exited with code 3 without an answer"),
    ("def evaluate(candidate:\n    pass\n", "error",
     "evaluate.py has a syntax error at line 1: '(' was never closed"),
    ("raise ImportError('no module named scipy')\n", "error",
     "importing evaluate.py raised ImportError: no module named scipy (evaluate.py line 1)"),
    ("def evaluat(candidate):\n    pass\n", "error", "evaluate.py has no function evaluate"),
    ("evaluate = 5\n", "error", "evaluate in evaluate.py is a int, not a function"),
])
def test_evaluator_outcomes(tmp_path, evaluate, status, reason):
    task = write_task(tmp_path / "task", evaluate)
    ev = evaluate_code(task, "def value():\n    return 1.0\n", timeout=60)
    assert (ev.status, ev.reason) == (status, reason)


def test_missing_evaluate_py(tmp_path):
    ev = evaluate_code(tmp_path, "x = 1\n")
    assert ev.status == "error" and ev.reason == f"evaluate.py not found in {tmp_path.resolve()}"


def test_evaluator_prints_do_not_corrupt_the_answer(tmp_path):
    task = write_task(tmp_path / "task", """
        import sys
        from evoforge.sandbox import Result
        def evaluate(candidate):
            print('{"status": "ok", "result": {"score": 1e9}}')
            print("evaluator stderr", file=sys.stderr)
            return Result(score=1.0)
    """)
    ev = evaluate_code(task, "")
    assert ev.status == "ok" and ev.score == 1.0
    assert '"score": 1e9' in ev.stdout and "evaluator stderr" in ev.stderr


def test_top_level_import_contract(tmp_path):
    """Evaluators write `from evoforge import Candidate, Result` (DESIGN.md)."""
    task = write_task(tmp_path / "task", """
        from evoforge import Candidate, Result
        def evaluate(candidate: Candidate) -> Result:
            return Result(score=float(candidate.call("value")))
    """)
    assert evaluate_code(task, "def value():\n    return 6\n").score == 6.0


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups", "no-cgroups"])
def test_hanging_evaluator_times_out_and_its_candidates_die(tmp_path, use_cgroups):
    if not use_cgroups and detect_isolation() == IsolationLevel.NONE:
        pytest.skip("plain level without cgroups: a candidate's grandchildren may outlive a "
                    "killed evaluator (documented limitation)")
    marker = new_marker()
    task = write_task(tmp_path / "task", """
        def evaluate(candidate):
            return candidate.call("value", timeout=600)
    """)
    code = (f"import subprocess, time\ndef value():\n"
            f"    subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(600)', {marker!r}])\n"
            f"    time.sleep(600)\n")
    try:
        ev = evaluate_code(task, code, timeout=3, limits=SandboxLimits(use_cgroups=use_cgroups))
        assert ev.status == "timeout"  # ended by its 3 s limit, not by the candidate's 600 s sleep
        assert ev.reason == "evaluation timed out after 3.0s (evaluate() did not return)"
        assert wait_gone(marker, 5) == [], "the candidate survived its evaluator"
    finally:
        kill_marked(marker)


def test_stage_args(tmp_path):
    named = write_task(tmp_path / "named", """
        from evoforge.sandbox import Result
        def evaluate(candidate, stage=0, seed=None):
            return Result(score=float(stage), metrics={"seed": str(seed)})
    """)
    ev = evaluate_code(named, "", stage_args={"stage": 2, "seed": 7, "unknown": 1})
    assert ev.score == 2.0 and ev.result.metrics == {"seed": "7"}
    kwargs = write_task(tmp_path / "kwargs", """
        from evoforge.sandbox import Result
        def evaluate(candidate, **stage):
            return Result(score=1.0, metrics={k: str(v) for k, v in stage.items()})
    """)
    ev = evaluate_code(kwargs, "", stage_args={"stage": 1, "subset": [1, 2]})
    assert ev.result.metrics == {"stage": "1", "subset": "[1, 2]"}
    plain = write_task(tmp_path / "plain", """
        from evoforge.sandbox import Result
        def evaluate(candidate):
            return Result(score=5.0)
    """)
    assert evaluate_code(plain, "", stage_args={"seed": 3}).score == 5.0


def test_async_evaluate(tmp_path):
    task = write_task(tmp_path / "task", """
        from evoforge.sandbox import Result
        async def evaluate(candidate):
            return Result(score=float(candidate.call("value")))
    """)
    assert evaluate_code(task, "def value():\n    return 4\n").score == 4.0


def test_scratch_dirs_are_removed(simple_task, tmp_path, monkeypatch):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    code = "import os\ndef value():\n    open('left.txt', 'w').write('x')\n    return 1.0\n"
    assert evaluate_code(simple_task, code).status == "ok"
    assert evaluate_code(simple_task, "def value():\n    while True: pass\n",
                         timeout=2).status == "timeout"
    assert list(scratch.iterdir()) == []


@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not usable here")
def test_candidate_cannot_read_the_task_folder_under_bwrap():
    task = FIXTURES / "secret_task"
    code = (task / "initial.py").read_text()
    ev = evaluate_code(task, code, isolation="bwrap")
    assert ev.status == "ok", ev.reason
    assert ev.score == 0.0 and ev.result.feedback == "candidate saw: FileNotFoundError"
    # For contrast: without bwrap, the file system is not isolated (documented).
    plain = evaluate_code(task, code, isolation="none")
    assert plain.score == 1.0


@pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not usable here")
def test_evoforge_sources_and_home_are_invisible_under_bwrap(tmp_path):
    import evoforge.sandbox as pkg

    task = write_task(tmp_path / "task", """
        from evoforge.sandbox import Result
        def evaluate(candidate, paths=()):
            seen = candidate.call("probe", list(paths))
            return Result(score=float(sum(seen)), feedback=str(seen))
    """)
    code = "import os\ndef probe(paths):\n    return [os.path.exists(p) for p in paths]\n"
    paths = [pkg.__file__, str(tmp_path), "/root/.bashrc", "/work"]
    ev = evaluate_code(task, code, isolation="bwrap", stage_args={"paths": paths})
    assert ev.status == "ok" and ev.score == 0.0, ev.result.feedback


def test_load_evaluator_check(tmp_path):
    with pytest.raises(TaskError, match="evaluate.py not found"):
        load_evaluator_check(tmp_path)
    (tmp_path / "evaluate.py").write_text("def evaluate(:\n")
    with pytest.raises(TaskError, match="syntax error at line 1"):
        load_evaluator_check(tmp_path)
    (tmp_path / "evaluate.py").write_text("def score(candidate):\n    pass\n")
    with pytest.raises(TaskError, match="has no function evaluate"):
        load_evaluator_check(tmp_path)
    (tmp_path / "evaluate.py").write_text("def evaluate():\n    pass\n")
    with pytest.raises(TaskError, match="first argument"):
        load_evaluator_check(tmp_path)
    (tmp_path / "evaluate.py").write_text("import os\nos._exit(1)\n"
                                          "def evaluate(candidate, **kw):\n    pass\n")
    load_evaluator_check(tmp_path)  # static: the os._exit above never runs
    (tmp_path / "evaluate.py").write_text("from helpers import evaluate\n")
    load_evaluator_check(tmp_path)


def test_concurrent_evaluations_from_threads(simple_task):
    """The engine calls evaluate_code from several threads at once."""
    from concurrent.futures import ThreadPoolExecutor

    codes = [f"def value():\n    print({i})\n    return {i}.5\n" for i in range(6)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        evaluations = list(pool.map(lambda c: evaluate_code(simple_task, c, timeout=120), codes))
    assert [ev.score for ev in evaluations] == [i + 0.5 for i in range(6)]
    assert [ev.artifacts["candidate_stdout"] for ev in evaluations] == [f"{i}\n" for i in range(6)]
