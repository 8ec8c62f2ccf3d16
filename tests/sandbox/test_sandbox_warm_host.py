"""Warm evaluator hosts (sandbox/host_pool.py, sandbox/_host_server.py): one host imports
evaluate.py once and forks every evaluation; it is reused only while that is safe.

Every evaluation reports, as metrics, its own pid and its parent's (the host's pid when it was
forked from a warm host), so which host served it is read from the evaluation itself."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from sandbox_helpers import write_task

from evoforge.config import load_config
from evoforge.executors.base import request_for
from evoforge.sandbox import SandboxLimits, evaluate_code, host_pool

SRC = str(Path(__file__).resolve().parents[2] / "src")

PROBE = """
    import os, random, signal, time
    from evoforge.sandbox import Result

    SEEN = []   # what earlier evaluations in this process saw: must stay empty in a fresh fork
    LOADED = open(os.path.join(os.path.dirname(__file__), "data.txt")).read().strip()

    def evaluate(candidate, crash="", hang=""):
        before = list(SEEN)
        value = candidate.call("value", timeout=30)
        SEEN.append(value)
        if crash == "exit":
            os._exit(3)
        if crash == "segv":
            os.kill(os.getpid(), signal.SIGSEGV)
        if hang:
            with open(hang, "w") as fh:
                fh.write(str(os.getpid()))
            time.sleep(600)
        return Result(score=float(value), metrics={
            "pid": os.getpid(), "parent": os.getppid(), "seen_before": len(before),
            "data": LOADED, "random": random.random(), "version": VERSION})

    VERSION = 1
"""
CODE = "def value():\n    return 2.0\n"


@pytest.fixture(autouse=True)
def fresh_pool(monkeypatch):
    monkeypatch.delenv("EVOFORGE_WARM_HOST", raising=False)
    host_pool.shutdown_all()
    yield
    host_pool.shutdown_all()


@pytest.fixture
def task(tmp_path):
    return write_task(tmp_path / "task", PROBE, **{"data.txt": "alpha\n"})


def _metrics(ev):
    assert ev.status == "ok", ev.reason
    return ev.result.metrics


def _host_pid(task_dir: Path) -> int | None:
    found = [h.pid for h in host_pool.hosts() if h.task_dir == Path(task_dir).resolve()]
    return found[0] if found else None


def test_two_evaluations_are_forks_of_one_host_and_share_no_state(task):
    first = _metrics(evaluate_code(task, CODE))
    second = _metrics(evaluate_code(task, CODE))
    host = _host_pid(task)
    assert host is not None and first["parent"] == second["parent"] == host
    assert first["pid"] != second["pid"] != host   # a fresh process each time
    # the first evaluation's module state (what its candidate returned) is not in the second
    assert first["seen_before"] == second["seen_before"] == 0
    assert first["random"] != second["random"]       # each fork draws fresh randomness
    assert [h.served for h in host_pool.hosts()] == [2]


@pytest.mark.parametrize("crash, reason", [
    ("exit", "the evaluator process exited with code 3 without an answer"),
    ("segv", "the evaluator process died with SIGSEGV"),
])
def test_a_crashed_evaluation_retires_its_host(task, crash, reason):
    before = _metrics(evaluate_code(task, CODE))["parent"]
    ev = evaluate_code(task, CODE, stage_args={"crash": crash})
    assert (ev.status, ev.reason) == ("error", reason)   # exactly what a cold host reports
    after = _metrics(evaluate_code(task, CODE))["parent"]
    assert after != before and after == _host_pid(task)


def test_a_timed_out_evaluation_retires_its_host_and_is_killed(task, tmp_path):
    before = _metrics(evaluate_code(task, CODE))
    pid_file = tmp_path / "hung.pid"
    ev = evaluate_code(task, CODE, timeout=3, stage_args={"hang": str(pid_file)})
    assert ev.status == "timeout"
    assert ev.reason == "evaluation timed out after 3.0s (evaluate() did not return)"
    hung = int(pid_file.read_text())
    deadline = time.monotonic() + 20   # a bound for a loaded machine, not the verdict
    while _alive_in(hung) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive_in(hung), "the timed-out evaluation survived"
    after = _metrics(evaluate_code(task, CODE))
    assert after["parent"] != before["parent"] and after["parent"] == _host_pid(task)


def _alive_in(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return False


def test_an_edited_evaluator_is_never_reused(task):
    first = _metrics(evaluate_code(task, CODE))
    path = task / "evaluate.py"
    path.write_text(path.read_text().replace("VERSION = 1", "VERSION = 2"))
    second = _metrics(evaluate_code(task, CODE))
    assert (first["version"], second["version"]) == (1, 2)
    assert second["parent"] != first["parent"]


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(task):
    first = _metrics(evaluate_code(task, CODE))
    data = task / "data.txt"
    st = data.stat()
    data.write_text("omega\n")                           # same size
    os.utime(data, ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old mtime back
    second = _metrics(evaluate_code(task, CODE))
    assert (first["data"], second["data"]) == ("alpha", "omega")
    assert second["parent"] != first["parent"]


def test_a_file_added_to_the_task_folder_replaces_the_host(task):
    first = _metrics(evaluate_code(task, CODE))
    (task / "planted.py").write_text("x = 1\n")
    assert _metrics(evaluate_code(task, CODE))["parent"] != first["parent"]


def test_an_edited_module_the_evaluator_imported_replaces_the_host(tmp_path):
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "helper_mod.py").write_text("FACTOR = 3\n")
    task = write_task(tmp_path / "task", f"""
        import os, sys
        sys.path.insert(0, {str(lib)!r})
        import helper_mod
        from evoforge.sandbox import Result
        def evaluate(candidate):
            return Result(score=float(helper_mod.FACTOR), metrics={{"parent": os.getppid()}})
    """)
    first = evaluate_code(task, CODE)
    (lib / "helper_mod.py").write_text("FACTOR = 5\n")
    second = evaluate_code(task, CODE)
    assert (first.score, second.score) == (3.0, 5.0)
    assert first.result.metrics["parent"] != second.result.metrics["parent"]


def test_a_host_serves_at_most_host_evaluations(task):
    parents = [_metrics(evaluate_code(task, CODE, host_evaluations=2))["parent"] for _ in range(3)]
    assert parents[0] == parents[1] != parents[2]


def test_the_switch_and_the_environment(task, monkeypatch):
    cold = _metrics(evaluate_code(task, CODE, warm_host=False))
    assert host_pool.hosts() == [] and cold["parent"] == os.getpid()   # our own child: cold
    monkeypatch.setenv("EVOFORGE_WARM_HOST", "0")   # the environment wins over the argument
    assert _metrics(evaluate_code(task, CODE, warm_host=True))["parent"] == os.getpid()
    assert host_pool.hosts() == []
    monkeypatch.setenv("EVOFORGE_WARM_HOST", "1")
    assert _metrics(evaluate_code(task, CODE, warm_host=False))["parent"] == _host_pid(task)


@pytest.mark.parametrize("value", [0, -1, 2.5, True, "3"])
def test_host_evaluations_must_be_a_positive_integer(task, value):
    with pytest.raises(ValueError, match="host_evaluations must be a positive integer"):
        evaluate_code(task, CODE, host_evaluations=value)


def test_an_evaluator_that_does_not_import_runs_cold_with_the_cold_reason(tmp_path):
    task = write_task(tmp_path / "task", "print('loading')\nraise ImportError('no scipy')\n")
    for _ in range(2):
        ev = evaluate_code(task, CODE)
        assert ev.status == "error"
        assert ev.reason == "importing evaluate.py raised ImportError: no scipy (evaluate.py line 2)"
        assert "loading" in ev.stdout   # cold: the import's own output is recorded as before
    assert host_pool.hosts() == []
    (task / "evaluate.py").write_text(textwrap.dedent(PROBE).replace(
        'LOADED = open(os.path.join(os.path.dirname(__file__), "data.txt")).read().strip()',
        'LOADED = "fixed"'))
    assert _metrics(evaluate_code(task, CODE))["parent"] == _host_pid(task) != os.getpid()


def test_an_evaluator_that_starts_threads_on_import_runs_cold(tmp_path):
    task = write_task(tmp_path / "task", """
        import os, threading
        from evoforge.sandbox import Result
        STOP = threading.Event()
        threading.Thread(target=STOP.wait, daemon=True).start()
        def evaluate(candidate):
            return Result(score=float(candidate.call("value")), metrics={"parent": os.getppid()})
    """)
    ev = evaluate_code(task, CODE)
    assert ev.score == 2.0 and ev.result.metrics["parent"] == os.getpid()
    assert host_pool.hosts() == []


def test_a_candidate_that_writes_the_task_folder_gets_a_new_host(tmp_path):
    """At levels where the task folder is writable (unshare, none) a candidate could plant a
    module there; the host that imported the old folder is not reused for the next program."""
    task = write_task(tmp_path / "task", """
        import os
        from evoforge.sandbox import Result
        def evaluate(candidate, task_dir=""):
            return Result(score=float(candidate.call("value", task_dir)),
                          metrics={"parent": os.getppid()})
    """)
    code = ("import os\ndef value(task_dir):\n    open(os.path.join(task_dir, 'x.py'), 'w')"
            ".write('1')\n    return 1.0\n")
    first = evaluate_code(task, code, isolation="none", stage_args={"task_dir": str(task)})
    assert (task / "x.py").exists()
    second = evaluate_code(task, CODE.replace("value():", "value(task_dir):"), isolation="none",
                           stage_args={"task_dir": str(task)})
    assert first.result.metrics["parent"] != second.result.metrics["parent"]


def test_the_task_config_reaches_the_request(tmp_path):
    cfg = load_config({}, {"evaluator.warm_host": False, "evaluator.host_evaluations": 7})
    task = type("T", (), {"config": cfg, "path": tmp_path})()
    request = request_for(task, CODE)
    assert (request.warm_host, request.host_evaluations) == (False, 7)
    assert load_config({}, {}).evaluator.warm_host is True


def test_a_killed_engine_leaves_no_host_behind(task, tmp_path):
    """kill -9 of the process that owns a warm host: the host's control socket closes and it
    exits (its idle state holds no evaluation)."""
    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {SRC!r})
        from evoforge.sandbox import evaluate_code, host_pool
        ev = evaluate_code({str(task)!r}, {CODE!r}, limits=__import__("evoforge.sandbox",
                           fromlist=["SandboxLimits"]).SandboxLimits())
        print(json.dumps({{"status": ev.status, "host": host_pool.hosts()[0].pid}}), flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    """).replace("import os, signal, sys", "import json, os, signal, sys"))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == -9, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["status"] == "ok"
    deadline = time.monotonic() + 20   # a bound for a loaded machine, not the verdict
    while _alive_in(report["host"]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive_in(report["host"]), "the warm host outlived its engine"


def test_memory_limits_still_apply_to_the_candidate(task):
    tiny = SandboxLimits(memory_mb=300)
    bomb = "def value():\n    x = bytearray(1 << 30)\n    return 1.0\n"
    ev = evaluate_code(task, bomb, limits=tiny)
    assert ev.status == "error" and "memory" in ev.reason.lower()
    assert _metrics(evaluate_code(task, CODE))["parent"] == _host_pid(task)


def test_evaluations_arriving_together_share_one_host(task):
    """Threads (evaluator.workers) asking at once wait for one host start, then share it."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(4) as pool:
        parents = list(pool.map(lambda _: _metrics(evaluate_code(task, CODE))["parent"], range(4)))
    assert len(set(parents)) == 1 and parents[0] == _host_pid(task)
    assert [h.served for h in host_pool.hosts()] == [4]
