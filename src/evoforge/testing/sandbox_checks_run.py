"""Conformance checks, part 1: results and exits, processes, environment, folders, clock."""
from __future__ import annotations

import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from evoforge.sandbox import (
    Candidate,
    CandidateError,
    CandidateTimeout,
    SandboxLimits,
    evaluate_code,
)
from evoforge.testing.sandbox_observers import (
    wait_gone,
)
from evoforge.testing.sandbox_properties import (
    ALLOWED_ENV,
    breach_if,
    provides,
)


class RunChecks:
    """Mixed into `sandbox_suite.SandboxTestCase` (its fixtures and `level`)."""

    level: str = ""
    timeout: float = 20.0
    limits: SandboxLimits

    # -- results and exits ------------------------------------------------------------------
    @provides("plain_data")
    def test_results_are_plain_data(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            class Yes(float):
                def __ge__(self, other): return True
                __le__ = __gt__ = __lt__ = __eq__ = __ge__
                def __repr__(self): return "0.0"
            class Keys(dict):
                def items(self): return [("forged", 1)]
            class Text(str):
                def __eq__(self, other): return True
            def f():
                return {"yes": Yes(5.0), "keys": Keys(real=2), "text": Text("abc"),
                        "nested": [Yes(1.5), (Text("x"), 3)]}
            def obj():
                return object()
        """)
        out = cand.call("f", timeout=self.timeout)
        breach_if(type(out) is not dict, f"a {type(out)} crossed the boundary")
        breach_if(type(out["yes"]) is not float or not out["yes"] > 1.0,
                  f"a float subclass crossed the boundary: {type(out['yes'])}")
        breach_if(type(out["text"]) is not str, "a str subclass crossed the boundary")
        breach_if(type(out["nested"][0]) is not float, "nested float subclass crossed")
        assert out["yes"] == 5.0 and out["text"] == "abc" and out["nested"][1] == ["x", 3]
        with pytest.raises(CandidateError, match="not plain data"):
            cand.call("obj", timeout=self.timeout)

    @provides("exit_is_not_success")
    def test_exit_zero_is_never_an_answer(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os, sys
            def sys_exit():
                sys.exit(0)
            def os_exit():
                os._exit(0)
            def keyboard():
                raise KeyboardInterrupt
        """)
        for function, message in (("sys_exit", "SystemExit: sys.exit(0)"),
                                  ("os_exit", "exited with code 0 before returning"),
                                  ("keyboard", "candidate raised KeyboardInterrupt")):
            with pytest.raises(CandidateError) as info:
                cand.call(function, timeout=self.timeout)
            assert message in info.value.summary, info.value.summary

    # -- processes ------------------------------------------------------------------------
    @provides("timeout_kills_tree")
    def test_timeout_kills_children_and_grandchildren(
            self, make_candidate: Callable[..., Candidate], marker: str) -> None:
        cand = make_candidate(f"""
            import subprocess, sys, time
            def f():
                subprocess.Popen([sys.executable, "-c",
                    "import subprocess, sys, time; "
                    "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
                    "'{marker}']); time.sleep(600)", {marker!r}])
                while True:
                    pass
        """)
        start = time.monotonic()
        with pytest.raises(CandidateTimeout):
            cand.call("f", timeout=1.0)
        assert time.monotonic() - start < 8, "the timeout was not enforced promptly"
        survivors = wait_gone(marker)
        breach_if(survivors, f"{len(survivors)} descendant(s) survived the timeout")

    @provides("kills_daemons")
    def test_timeout_kills_double_forked_daemons(
            self, make_candidate: Callable[..., Candidate], marker: str) -> None:
        cand = make_candidate(f"""
            import os, sys, time
            def f():
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        os.execv(sys.executable, [sys.executable, "-c",
                                 "import time; time.sleep(600)", {marker!r}])
                    os._exit(0)
                while True:
                    time.sleep(1)
        """)
        with pytest.raises(CandidateTimeout):
            cand.call("f", timeout=1.0)
        survivors = wait_gone(marker)
        breach_if(survivors, f"a daemon survived the timeout: pids {survivors}")

    @provides("kills_daemons")
    def test_daemon_left_behind_after_return_is_killed(
            self, make_candidate: Callable[..., Candidate], marker: str) -> None:
        cand = make_candidate(f"""
            import os, sys
            def f():
                if os.fork() == 0:
                    os.setsid()
                    if os.fork() == 0:
                        os.execv(sys.executable, [sys.executable, "-c",
                                 "import time; time.sleep(600)", {marker!r}])
                    os._exit(0)
                os.wait()
                return "returned"
        """)
        assert cand.call("f", timeout=self.timeout) == "returned"
        survivors = wait_gone(marker)
        breach_if(survivors, f"a daemon outlived the call: pids {survivors}")

    @provides("evaluator_survives")
    def test_candidate_cannot_kill_the_evaluator(self, tmp_path: Path) -> None:
        task = _write_task(tmp_path / "task", """
            from evoforge import Result
            def evaluate(candidate):
                return Result(score=float(candidate.call("f", timeout=20)))
        """)
        code = ("import os, signal, time\n"
                "def f():\n"
                "    os.kill(os.getppid(), signal.SIGKILL)\n"
                "    time.sleep(0.5)\n"
                "    return 1.0\n")
        ev = evaluate_code(task, code, isolation=self.level, limits=self.limits, timeout=60)
        breach_if(ev.reason.startswith("the evaluator process died"),
                  f"the candidate killed the evaluator: {ev.reason}")
        assert ev.status in ("ok", "error"), (ev.status, ev.reason)

    # -- environment, folders, clock ----------------------------------------------------------
    @provides("clean_environment")
    def test_environment_is_clean(self, make_candidate: Callable[..., Candidate],
                                  secret_env: dict[str, str]) -> None:
        cand = make_candidate("import os\ndef env():\n    return dict(os.environ)\n")
        env = cand.call("env", timeout=self.timeout)
        leaked = [k for k in secret_env if k in env]
        leaked += [k for k, v in env.items() if any(s in v for s in secret_env.values())]
        breach_if(leaked, f"secrets reached the candidate: {leaked}")
        breach_if(set(env) - ALLOWED_ENV, f"unexpected variables: {sorted(set(env) - ALLOWED_ENV)}")
        assert env["HOME"] == str(cand.work_dir)

    @provides("fresh_work_dir")
    def test_each_candidate_gets_a_fresh_work_dir_removed_afterwards(
            self, make_candidate: Callable[..., Candidate]) -> None:
        code = """
            import os
            def f(tag):
                before = sorted(os.listdir("."))
                with open("note.txt", "w") as fh:
                    fh.write(tag)
                return os.getcwd(), os.environ["HOME"], before
        """
        first, second = make_candidate(code), make_candidate(code)
        cwd1, home1, seen1 = first.call("f", "one", timeout=self.timeout)
        cwd2, home2, seen2 = second.call("f", "two", timeout=self.timeout)
        assert cwd1 == home1 == str(first.work_dir) and cwd2 == home2 == str(second.work_dir)
        breach_if(cwd1 == cwd2, "two candidates share a work dir")
        breach_if(seen1 != ["initial.py"] or seen2 != ["initial.py"],
                  f"the work dir was not fresh: {seen1}, {seen2}")
        assert (first.work_dir / "note.txt").read_text() == "one"
        root = first.root
        first.close()
        breach_if(root.exists(), f"{root} was not removed by close()")

    @provides("fresh_work_dir")
    def test_evaluation_leaves_no_scratch_behind(self, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(scratch))
        task = _write_task(tmp_path / "task", """
            from evoforge import Result
            def evaluate(candidate):
                return Result(score=float(candidate.call("f", timeout=1)))
        """)
        writer = ("import os\ndef f():\n    os.makedirs('a/b', exist_ok=True)\n"
                  "    open('a/b/c.bin', 'wb').write(b'x' * 1000)\n    os.chmod('a', 0)\n"
                  "    return 1.0\n")
        hang = "def f():\n    while True:\n        pass\n"
        assert evaluate_code(task, writer, isolation=self.level, limits=self.limits).ok
        assert evaluate_code(task, hang, isolation=self.level, limits=self.limits,
                             timeout=30).status == "timeout"
        left = list(scratch.iterdir())
        breach_if(left, f"scratch left behind: {left}")

    @provides("clock_outside")
    def test_time_is_measured_outside(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import time
            _sleep = time.sleep
            def f():
                for name in ("time", "monotonic", "perf_counter", "process_time"):
                    setattr(time, name, lambda: 0.0)
                _sleep(0.4)
                return time.monotonic()
        """)
        assert cand.call("f", timeout=self.timeout) == 0.0
        breach_if(cand.last_seconds < 0.4, f"measured {cand.last_seconds:.3f}s for a 0.4 s sleep")


def _write_task(root: Path, evaluate: str, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "evaluate.py").write_text(textwrap.dedent(evaluate))
    for name, text in files.items():
        (root / name).write_text(text)
    return root
