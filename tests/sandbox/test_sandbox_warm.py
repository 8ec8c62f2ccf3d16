"""Warm sandboxes (evoforge.sandbox.warm): calls forked from a zygote keep every guarantee.

Real zygotes, real namespaces, real kills: a zygote killed with SIGKILL is replaced on the next
call, none is left after shutdown (nor after an evaluator host that started its own), each call
is a fresh process with fresh /dev/shm and module state that cannot reach another candidate's
folder, budgets and timeouts hold per call, and concurrent calls never get each other's
answers. The conformance suite and the red-team corpus run warm too (tests/redteam).
"""
from __future__ import annotations

import os
import signal
import textwrap
import threading
import time
from pathlib import Path

import pytest
from sandbox_helpers import new_marker, wait_gone, write_task

from evoforge.sandbox import (
    Candidate,
    CandidateBudgetExceeded,
    CandidateError,
    CandidateTimeout,
    SandboxLimits,
    evaluate_code,
    warm,
)
from evoforge.sandbox.isolation import IsolationLevel, python_paths

LEVELS = [pytest.param(level, id=level.name.lower(), marks=pytest.mark.skipif(
    not warm.supported(level), reason=f"warm sandboxes are not available at {level.name.lower()}"
    " here (landlock needs its namespaces, bwrap a user namespace)"))
    for level in (IsolationLevel.LANDLOCK, IsolationLevel.BWRAP)]


@pytest.fixture(params=LEVELS)
def level(request) -> IsolationLevel:
    """Every test runs at each level whose calls are forked from a zygote."""
    return request.param


@pytest.fixture(autouse=True)
def warm_on(monkeypatch):
    monkeypatch.setenv("EVOFORGE_SANDBOX_WARM", "1")
    yield
    warm.shutdown_all()


def _make(code: str, level: IsolationLevel, **limits) -> Candidate:
    return Candidate.create(textwrap.dedent(code), isolation=level,
                            limits=SandboxLimits(**limits))


def _tree(pid: int) -> list[int]:
    """`pid` and all its descendants (from /proc/*/task/*/children)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        try:
            for task in os.listdir(f"/proc/{current}/task"):
                with open(f"/proc/{current}/task/{task}/children", encoding="ascii") as fh:
                    todo.extend(int(p) for p in fh.read().split())
        except OSError:
            continue
    return out


def _wait_dead(pids: list[int], seconds: float = 10.0) -> list[int]:
    """The pids still alive after waiting up to `seconds` (a hang guard, not a timing check)."""
    deadline = time.monotonic() + seconds
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        if alive:
            time.sleep(0.05)
    return alive


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_calls_are_warm_and_each_is_a_fresh_process(level):
    with _make("""
        import os
        STATE = []
        def f():
            STATE.append(1)
            seen = sorted(os.listdir("/dev/shm"))
            with open("/dev/shm/mark", "w") as fh:
                fh.write("x")
            return [os.getpid(), len(STATE), seen]
    """, level) as cand:
        first, second = cand.call("f", timeout=30), cand.call("f", timeout=30)
        assert cand.n_warm_calls == 2
    # pid 2 of a fresh pid namespace (the call's init is 1), module state and /dev/shm fresh
    assert first == second == [2, 1, []]


def test_warm_off_means_cold(level, monkeypatch):
    monkeypatch.setenv("EVOFORGE_SANDBOX_WARM", "0")
    with _make("def f():\n    return 1\n", level) as cand:
        assert cand.call("f", timeout=30) == 1
        assert cand.n_warm_calls == 0 and not cand.last_warm


def test_a_call_cannot_reach_another_candidates_folder(level):
    with _make("def f():\n    return 1\n", level) as other, _make("""
        def f(path):
            try:
                open(path).read()
            except PermissionError:
                return "denied"   # landlock: the path is there, not for this call
            except FileNotFoundError:
                return "denied"   # bwrap: this call's view has no other candidate's folder
            return "read"
    """, level) as cand:
        secret = other.work_dir / "secret.txt"
        secret.write_text("other candidate's data")
        assert other.call("f", timeout=30) == 1  # both share one zygote
        assert cand.call("f", str(secret), timeout=30) == "denied"
        assert cand.last_warm


def test_a_zygote_killed_with_sigkill_is_replaced_transparently(level):
    with _make("def f(x):\n    return x * 2\n", level) as cand:
        assert cand.call("f", 1, timeout=30) == 2
        zygote = warm.zygote_for(level)
        assert zygote is not None and zygote.pid is not None
        starts = zygote.starts
        tree = _tree(zygote.pid)
        for pid in reversed(tree):   # the zygote itself, then its unshare wrapper
            os.kill(pid, signal.SIGKILL)
        assert _wait_dead(tree) == []
        assert cand.call("f", 21, timeout=30) == 42
        assert cand.last_warm and zygote.starts == starts + 1


def test_a_zygote_whose_control_socket_broke_is_replaced(level):
    """The zygote process alone dies (its unshare wrapper may linger a moment)."""
    with _make("def f(x):\n    return x + 1\n", level) as cand:
        assert cand.call("f", 1, timeout=30) == 2
        zygote = warm.zygote_for(level)
        assert zygote is not None and zygote.pid is not None
        inner = [p for p in _tree(zygote.pid) if p != zygote.pid]
        assert inner, "the zygote runs under its unshare wrapper"
        os.kill(inner[0], signal.SIGKILL)
        assert _wait_dead(inner) == []
        assert cand.call("f", 2, timeout=30) == 3 and cand.last_warm


def test_no_zygote_is_left_after_shutdown(level):
    warm.shutdown_all()   # only this test's zygotes (earlier tests of this worker may leave some)
    with _make("def f():\n    return 1\n", level) as cand, _make("def f():\n    return 2\n", level,
                                                           memory_mb=128) as lean:
        assert cand.call("f", timeout=30) == 1 and lean.call("f", timeout=30) == 2
        assert cand.last_warm and lean.last_warm
    zygotes = list(warm._zygotes.values())
    assert sorted(z.numpy for z in zygotes) == [False, True]  # small limit: the lean one
    processes = [pid for z in zygotes if z.pid is not None for pid in _tree(z.pid)]
    assert len(processes) >= 4   # each zygote under its unshare wrapper
    warm.shutdown_all()
    assert _wait_dead(processes) == []
    assert warm._zygotes == {}


def test_an_evaluator_host_leaves_no_zygote_behind(level, tmp_path: Path):
    """The host adopts the engine's zygotes; here its evaluator lets go of them, so the host
    starts its own for the next call: that one must be gone when the evaluation is over."""
    task = write_task(tmp_path / "task", """
        import os
        from evoforge import Result
        from evoforge.sandbox import warm

        def _tree(pid):
            out, todo = [], [pid]
            while todo:
                current = todo.pop()
                out.append(current)
                for task in os.listdir(f"/proc/{current}/task"):
                    with open(f"/proc/{current}/task/{task}/children") as fh:
                        todo.extend(int(p) for p in fh.read().split())
            return out

        def evaluate(candidate):
            first = candidate.call("f", timeout=30)
            borrowed = all(z.borrowed for z in warm._zygotes.values())
            for zygote in list(warm._zygotes.values()):   # borrowed: closes our copy only
                zygote.close()
            second = candidate.call("f", timeout=30)
            own = [pid for z in warm._zygotes.values() if z.pid is not None
                   for pid in _tree(z.pid)]
            metrics = {f"pid{i}": pid for i, pid in enumerate(own)}
            return Result(score=float(first + second), metrics={
                "borrowed": int(borrowed), "warm": candidate.n_warm_calls, **metrics})
    """)
    ev = evaluate_code(task, "def f():\n    return 1\n", isolation=level.name.lower(), timeout=120)
    assert ev.ok, ev.reason
    metrics = dict(ev.result.metrics)
    assert metrics.pop("borrowed") == 1 and metrics.pop("warm") == 2
    own = [int(pid) for pid in metrics.values()]
    assert len(own) >= 2, "the host started a zygote of its own (under its wrapper)"
    assert _wait_dead(own) == [], "a zygote outlived its evaluator host"


def test_budgets_and_timeouts_hold_per_call(level):
    marker = new_marker()
    with _make(f"""
        import subprocess, sys, time
        def burn(seconds):
            end = time.process_time() + seconds
            while time.process_time() < end:
                pass
            return "done"
        def hang():
            subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
            time.sleep(600)
    """, level) as cand:
        assert cand.call("burn", 0.3, timeout=60) == "done"
        assert cand.last_warm and cand.last_cost.cpu_s >= 0.25   # measured from outside
        with pytest.raises(CandidateBudgetExceeded) as info:
            cand.call("burn", 30.0, timeout=120, cpu_budget_s=0.5)
        assert info.value.scope == "call" and info.value.cpu_s >= 0.5
        assert "killed" in info.value.summary
        with pytest.raises(CandidateTimeout):
            cand.call("hang", timeout=2)
        assert wait_gone(marker, 10.0) == [], "a process of a timed-out call survived"
        assert cand.call("burn", 0.0, timeout=60) == "done"   # the zygote is unaffected


def test_a_memory_hog_fails_its_own_call_only(level):
    with _make("""
        def hog():
            return len(bytearray(2 << 30))
        def fine():
            return len(bytearray(1 << 20))
    """, level, memory_mb=1024) as cand:
        with pytest.raises(CandidateError, match="MemoryError|memory"):
            cand.call("hog", timeout=60)
        assert cand.last_warm
        assert cand.call("fine", timeout=60) == 1 << 20


def test_concurrent_calls_never_get_another_calls_answer(level):
    cands = [_make(f"import os\ndef who(x):\n    return [{i}, x, os.getpid()]\n", level) for i in range(4)]
    answers: dict[tuple[int, int], object] = {}
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for x in range(5):
                answers[(i, x)] = cands[i].call("who", x, timeout=60)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append((exc, cands[i].last_stderr[-500:], cands[i].last_cost))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        for cand in cands:
            cand.close()
    assert not errors, errors
    assert answers == {(i, x): [i, x, 2] for i in range(4) for x in range(5)}
    assert all(cand.n_warm_calls == 5 for cand in cands)


def test_run_is_warm_too_and_confined(level):
    with _make("def f():\n    return 1\n", level) as cand:
        out = cand.run(["sh", "-c", "echo $HOME; cat /etc/hostname 2>&1; ls /tmp 2>&1; true"],
                       timeout=30)
        assert cand.last_warm and out.returncode == 0
        lines = out.stdout.splitlines()
        assert lines[0] == str(cand.work_dir)
        if level == IsolationLevel.LANDLOCK:
            assert "Permission denied" in lines[1] and "Permission denied" in lines[2]
        else:   # bwrap: no /etc/hostname at all; /tmp is the call's own tmpfs, its folder only
            assert "No such file" in lines[1]
            python = {p.split("/")[2] for p in python_paths() if p.startswith("/tmp/")}
            assert lines[2:] == sorted({cand.root.name} | python)   # a venv in /tmp, as in CI


def test_a_zygote_started_by_a_thread_outlives_the_thread(level):
    """A parent-death signal is per thread: the zygote must not die with the worker thread
    that happened to start it (calls of other threads were killed mid-flight once)."""
    warm.shutdown_all()
    with _make("def f(x):\n    return x\n", level) as cand:
        results: list[object] = []
        starter = threading.Thread(target=lambda: results.append(cand.call("f", 1, timeout=30)))
        starter.start()
        starter.join()
        assert results == [1] and cand.last_warm
        zygote = warm.zygote_for(level)
        assert zygote is not None
        starts = zygote.starts
        assert cand.call("f", 2, timeout=30) == 2
        assert zygote.starts == starts, "the zygote died with the thread that started it"


def test_zygotes_die_with_their_process_even_on_sigkill(level, tmp_path: Path):
    """No leak when the owner is killed without any cleanup: its exit closes the control
    socket, the zygote (pid 1 of its namespace) exits and the kernel empties the namespace."""
    import subprocess
    import sys

    script = tmp_path / "owner.py"
    script.write_text(textwrap.dedent("""
        import os, sys, time
        from evoforge.sandbox import Candidate
        from evoforge.sandbox.isolation import IsolationLevel
        from evoforge.sandbox import warm

        level = IsolationLevel[sys.argv[2]]
        cand = Candidate.create("def f():\\n    return 1\\n", isolation=level,
                                parent_dir=sys.argv[1])
        assert cand.call("f", timeout=30) == 1 and cand.last_warm
        zygote = warm.zygote_for(level)
        print(zygote.pid, flush=True)
        time.sleep(600)
    """))
    env = {**os.environ, "EVOFORGE_SANDBOX_WARM": "1"}
    owner = subprocess.Popen([sys.executable, str(script), str(tmp_path), level.name],
                             stdout=subprocess.PIPE, env=env)
    try:
        assert owner.stdout is not None
        wrapper = int(owner.stdout.readline())
        tree = _tree(wrapper)
        assert len(tree) >= 2   # the unshare wrapper and the zygote
    finally:
        owner.kill()
        owner.wait()
    assert _wait_dead(tree) == [], "a zygote outlived its killed owner"


SCAN = """
import hashlib, re

def scan(prefix, digest):
    '''How many copies of prefix+SECRET (known here only by its hash) this process's memory
    holds: a fork inherits its zygote's memory, so a request the zygote once held would be
    readable by every later call.'''
    pattern = re.compile(re.escape(prefix.encode()) + rb"[0-9a-f]{32}")
    hits = 0
    with open("/proc/self/maps") as maps, open("/proc/self/mem", "rb", 0) as mem:
        for line in maps:
            addr, perms = line.split()[:2]
            start, end = (int(x, 16) for x in addr.split("-"))
            if "r" not in perms or end - start > 1 << 30:
                continue
            try:
                mem.seek(start)
                chunk = mem.read(end - start)
            except (OSError, ValueError, OverflowError):
                continue
            hits += sum(hashlib.sha256(m.group()).hexdigest() == digest
                        for m in pattern.finditer(chunk))
    return hits
"""


def test_a_call_cannot_read_another_calls_request_in_its_memory(level):
    """What one call asked the zygote (a `run()` argv, which may carry an evaluator's hidden
    inputs) is received by that call's own process, never by the zygote every call forks from."""
    import hashlib
    import uuid

    prefix, secret = "EVOLEAK", uuid.uuid4().hex
    digest = hashlib.sha256((prefix + secret).encode()).hexdigest()
    with _make("def f():\n    return 1\n", level) as other, _make(SCAN, level) as spy:
        for _ in range(3):
            assert other.run(["true", prefix + secret], timeout=30).returncode == 0
            assert other.last_warm
        assert spy.call("scan", prefix, digest, timeout=60) == 0
        assert spy.last_warm


def test_a_request_too_big_for_the_zygote_runs_cold(level):
    with _make("def f():\n    return 1\n", level) as cand:
        out = cand.run(["sh", "-c", "echo ${#1}", "sh", "x" * 70000], timeout=60)
        assert out.returncode == 0 and out.stdout.strip() == "70000" and not cand.last_warm
        assert cand.call("f", timeout=30) == 1 and cand.last_warm   # the next call is warm again


def test_requests_at_the_zygotes_limit_run_warm_and_past_it_cold(level, monkeypatch):
    """The zygote takes MAX_REQUEST_BYTES in one message; a `run()` request (the longer of
    the two headers) of exactly that size is warm, one byte more is cold, both correct."""
    seen: list[warm.CallSpec] = []
    real = warm.call_spec

    def spy(*args, **kwargs):
        spec = real(*args, **kwargs)
        seen.append(spec)
        return spec

    monkeypatch.setattr(warm, "call_spec", spy)
    with _make("def f():\n    return 1\n", level) as cand:
        cand.run(["sh", "-c", "echo ${#1}", "sh", "x"], timeout=30)
        assert seen and seen[-1] is not None
        fill = 1 + warm.MAX_REQUEST_BYTES - len(seen[-1].header(False))
        for extra, warm_expected in ((0, True), (1, False)):
            out = cand.run(["sh", "-c", "echo ${#1}", "sh", "x" * (fill + extra)], timeout=60)
            assert out.returncode == 0, out.stderr
            assert out.stdout.strip() == str(fill + extra)
            assert cand.last_warm == warm_expected


def test_a_warm_call_whose_sandbox_cannot_be_set_up_runs_cold(level, monkeypatch, caplog):
    """A machine where some step of a warm call's set-up fails (here: a folder to bind that is
    not there) costs speed, never a failed call: the init says so before any candidate code
    runs, the call is redone cold and so are the process's later calls at that level."""
    real = warm.call_spec

    def broken(*args, **kwargs):
        spec = real(*args, **kwargs)
        if spec is not None and spec.mounts is not None:
            spec.mounts = {**spec.mounts, "ro": [*spec.mounts["ro"], "/nonexistent/evoforge"]}
        elif spec is not None:
            spec.lockdown = [*spec.lockdown, "--rw", "/nonexistent/evoforge"]
        return spec

    monkeypatch.setattr(warm, "call_spec", broken)
    warm.shutdown_all()
    warm._broken.clear()
    try:
        with _make("import os\ndef f(x):\n    return [x, os.getpid()]\n", level) as cand:
            with caplog.at_level("WARNING", logger="evoforge.sandbox"):
                assert cand.call("f", 1, timeout=60)[0] == 1
            assert not cand.last_warm and cand.n_warm_calls == 0
            assert "could not be set up" in caplog.text
            assert cand.call("f", 2, timeout=60)[0] == 2 and not cand.last_warm
    finally:
        warm.shutdown_all()
        warm._broken.clear()
