"""Candidate.call / Candidate.run under every isolation level that works here."""
from __future__ import annotations

import math
import socket
import sys
import time

import numpy as np
import pytest
from sandbox_helpers import (
    HAS_CGROUPS,
    NAMESPACED,
    is_alive,
    kill_marked,
    level_id,
    new_marker,
    wait_gone,
)

from evoforge.sandbox import Candidate, CandidateError, CandidateTimeout, SandboxLimits
from evoforge.sandbox.isolation import IsolationLevel

PY = sys.executable


def test_roundtrip_args_and_results(make_candidate):
    cand = make_candidate("""
        import numpy as np
        def echo(*args, **kwargs):
            return {"args": args, "kwargs": kwargs}
        def stats(points, scale=1.0):
            pts = np.asarray(points)
            return pts.mean(axis=0) * scale, float(pts.sum()), [1, (2, 3), {"k": None}]
        def nan():
            return [float("nan"), float("inf"), np.array([np.nan, 1.0])]
    """)
    arr = np.arange(6, dtype=np.float32).reshape(3, 2)
    out = cand.call("echo", [1, [2, [3]]], arr, name="x", flag=True, nested={"a": (1, 2)})
    assert out["args"][0] == [1, [2, [3]]]
    np.testing.assert_array_equal(out["args"][1], arr)
    assert out["args"][1].dtype == np.float32
    assert out["kwargs"] == {"name": "x", "flag": True, "nested": {"a": [1, 2]}}
    mean, total, misc = cand.call("stats", arr, scale=2.0)
    np.testing.assert_allclose(mean, arr.mean(axis=0) * 2.0)
    assert total == 15.0 and misc == [1, [2, 3], {"k": None}]
    values = cand.call("nan")
    assert math.isnan(values[0]) and values[1] == math.inf
    assert np.isnan(values[2][0]) and values[2][1] == 1.0


def test_garbage_on_stdout_does_not_corrupt_the_answer(make_candidate):
    cand = make_candidate("""
        import os, sys
        def noisy():
            print('{"ok": false, "error": "fake"}')
            sys.stdout.write("\\x00\\xff garbage {{{ \\n")
            os.write(1, b'\\xff\\xfe raw bytes\\n')
            print("to stderr", file=sys.stderr)
            sys.stdout.close()
            return 42
    """)
    assert cand.call("noisy") == 42
    assert "fake" in cand.last_stdout and "raw bytes" in cand.last_stdout
    assert "to stderr" in cand.last_stderr


def test_candidate_exception_has_type_line_and_traceback(make_candidate):
    cand = make_candidate("""
        def helper(x):
            return 1 / x

        def pack(n):
            return helper(n - n)
    """)
    with pytest.raises(CandidateError) as info:
        cand.call("pack", 3)
    err = info.value
    assert not isinstance(err, CandidateTimeout)
    assert err.exc_type == "ZeroDivisionError" and err.lineno == 3
    assert err.summary == "candidate raised ZeroDivisionError: division by zero (line 3) in pack()"
    assert "return 1 / x" in err.traceback and "_call_worker" not in err.traceback
    assert "ZeroDivisionError" in str(err)


@pytest.mark.parametrize("code, needle", [
    ("def f(:\n    pass\n", "failed to load: SyntaxError"),
    ("raise RuntimeError('at import')\n", "failed to load: RuntimeError: at import (line 1)"),
    ("x = 1\n", "the candidate program has no function 'f'"),
    ("f = 3\n", "has a non-callable int 'f'"),
    ("def f():\n    return object()\n", "not plain data: the value returned by f() is a "
                                         "builtins.object object"),
    ("def f():\n    return {1, 2}\n", "builtins.set object"),
    ("def f():\n    return (x for x in [])\n", "generator object"),
    ("def f():\n    import sys\n    sys.exit(3)\n", "candidate raised SystemExit: sys.exit(3)"),
    ("def f():\n    import os\n    os._exit(7)\n", "exited with code 7 before returning"),
    ("def f():\n    import ctypes\n    ctypes.string_at(0)\n", "died with SIGSEGV"),
    ("def f():\n    a = []\n    a.append(a)\n    return a\n", "too deeply nested"),
])
def test_candidate_failures_are_described(make_candidate, code, needle):
    cand = make_candidate(code)
    with pytest.raises(CandidateError) as info:
        cand.call("f")
    assert needle in info.value.summary


@pytest.mark.parametrize("payload", [
    b'{"ok": true, "value": {"__ndarray__": "AAAAAAAAAAA=", "dtype": "O", "shape": [1]}}',
    b"[" * 100_000 + b"]" * 100_000,
    b'{"ok": false, "error": 3}',
    b"not json at all",
])
def test_forged_answers_are_rejected(make_candidate, payload):
    """The answer pipe is writable by the candidate: the parent must decode it defensively."""
    cand = make_candidate(f"""
        import os
        def f():
            fd = int(open("/proc/self/cmdline", "rb").read().split(b"\\0")[-2])
            os.write(fd, {payload!r})
            os._exit(0)
    """)
    with pytest.raises(CandidateError, match="sent a corrupt answer for f()"):
        cand.call("f")


def test_hang_times_out_and_is_killed(make_candidate):
    cand = make_candidate("def f():\n    while True:\n        pass\n")
    start = time.monotonic()
    with pytest.raises(CandidateTimeout) as info:
        cand.call("f", timeout=1.0)
    assert time.monotonic() - start < 120  # killed, not left looping (the margin is for load)
    assert info.value.summary == "candidate timed out after 1.0s in f()"
    assert isinstance(info.value, CandidateError) and info.value.timeout == 1.0


def _sleeper(marker: str) -> str:
    return (f"subprocess.Popen([{PY!r}, '-c', 'import time; time.sleep(600)', {marker!r}], "
            "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)")


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups", "no-cgroups"])
def test_grandchild_is_killed_on_timeout(make_candidate, level, use_cgroups):
    marker = new_marker()
    cand = make_candidate(f"""
        import subprocess, time
        def f(pidfile):
            p = {_sleeper(marker)}
            open(pidfile, "w").write(str(p.pid))
            time.sleep(600)
    """, use_cgroups=use_cgroups)
    pidfile = str(cand.work_dir / "sleeper.pid")
    try:
        with pytest.raises(CandidateTimeout):
            cand.call("f", pidfile, timeout=4.0)
        assert wait_gone(marker) == []
        if level == IsolationLevel.NONE:  # same pid namespace: the pid file is meaningful
            pid = int(open(pidfile).read())
            # a SIGKILLed process drops its cmdline before it is gone: give it a moment to finish dying
            deadline = time.monotonic() + 3
            while is_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not is_alive(pid)
    finally:
        kill_marked(marker)


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups", "no-cgroups"])
def test_grandchild_left_running_after_return_is_killed(make_candidate, use_cgroups):
    marker = new_marker()
    cand = make_candidate(f"""
        import subprocess
        def f():
            {_sleeper(marker)}
            return "done"
    """, use_cgroups=use_cgroups)
    try:
        assert cand.call("f", timeout=10) == "done"
        assert wait_gone(marker) == []
    finally:
        kill_marked(marker)


DAEMON = """
    import os, subprocess, time
    def f():
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv({py!r}, [{py!r}, "-c", "import time; time.sleep(600)", {marker!r}])
            os._exit(0)
        time.sleep(0.5)
        return "daemonised"
"""


@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups", "no-cgroups"])
def test_double_forked_daemon_is_killed(level, use_cgroups):
    """A daemon leaves the process group. It still dies: the pid namespace (bwrap, unshare)
    or the cgroup take it down. Plain subprocess without cgroups cannot (documented)."""
    if level == IsolationLevel.NONE and not (use_cgroups and HAS_CGROUPS):
        pytest.skip("plain subprocess level without a writable cgroup cannot kill a daemon "
                    "that left its process group (documented limitation)")
    marker = new_marker()
    code = DAEMON.format(py=PY, marker=marker)
    import textwrap
    with Candidate.create(textwrap.dedent(code), isolation=level,
                          limits=SandboxLimits(use_cgroups=use_cgroups)) as cand:
        try:
            assert cand.call("f", timeout=20) == "daemonised"
            assert wait_gone(marker) == [], "the daemon survived the sandbox"
        finally:
            kill_marked(marker)


def test_environment_is_clean(make_candidate, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-do-not-leak")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret")
    cand = make_candidate("import os\ndef env():\n    return dict(os.environ)\n")
    env = cand.call("env")
    assert "OPENAI_API_KEY" not in env and "ANTHROPIC_API_KEY" not in env
    assert not any("secret" in v for v in env.values())
    assert set(env) <= {"PATH", "LANG", "PYTHONHASHSEED", "HOME", "PYTHONDONTWRITEBYTECODE",
                        "PYTHONUSERBASE", "PWD",  # bwrap sets PWD for --chdir
                        "TMPDIR"}  # landlock points it at the work dir (/tmp is closed)
    assert env["HOME"] == str(cand.work_dir)


def test_work_dir_is_cwd_and_removed_after_close(make_candidate):
    cand = make_candidate("""
        import os
        def f():
            os.makedirs("deep/er", exist_ok=True)
            open("deep/er/file.txt", "w").write("x")
            os.chmod("deep", 0o000)
            return os.getcwd()
    """)
    assert cand.call("f") == str(cand.work_dir)
    assert (cand.work_dir / "deep").exists()
    root = cand.root
    cand.close()
    assert not root.exists()


def test_memory_hog_is_stopped_by_the_memory_limit(make_candidate):
    cand = make_candidate("""
        def hog():
            chunks = []
            while True:
                chunks.append(bytearray(50 * 1024 * 1024))
    """, memory_mb=300)
    with pytest.raises(CandidateError) as info:
        cand.call("hog", timeout=30)
    assert not isinstance(info.value, CandidateTimeout)
    assert "MemoryError" in info.value.summary and "memory limit" in info.value.summary


def test_cpu_limit(make_candidate):
    cand = make_candidate("def spin():\n    while True:\n        pass\n", cpu_seconds=1)
    with pytest.raises(CandidateError) as info:
        cand.call("spin", timeout=20)
    assert not isinstance(info.value, CandidateTimeout)
    assert "CPU time limit" in info.value.summary


def test_file_size_limit(make_candidate):
    cand = make_candidate("""
        def write():
            with open("big.bin", "wb") as fh:
                fh.write(b"x" * (3 * 1024 * 1024))
    """, file_size_mb=1)
    with pytest.raises(CandidateError, match="File too large"):
        cand.call("write")


def test_output_flood_is_truncated(make_candidate):
    cand = make_candidate("""
        import sys
        def flood():
            for _ in range(200):
                sys.stdout.write("y" * 100_000 + "\\n")
            print("THE END")
            return "ok"
    """, max_output_bytes=10_000)
    assert cand.call("flood", timeout=60) == "ok"
    assert len(cand.last_stdout) < 11_000
    assert "bytes truncated" in cand.last_stdout and "THE END" in cand.last_stdout


def test_result_size_limit(make_candidate):
    cand = make_candidate("def big():\n    return 'z' * 5_000_000\n", max_result_bytes=100_000)
    with pytest.raises(CandidateError, match="larger than the 100000 bytes allowed"):
        cand.call("big")


@pytest.mark.skipif(not HAS_CGROUPS, reason="needs a writable pids cgroup")
def test_process_count_limit(make_candidate):
    cand = make_candidate(f"""
        import subprocess
        def spawn():
            procs, errors = [], 0
            for _ in range(40):
                try:
                    procs.append(subprocess.Popen([{PY!r}, "-c", "import time; time.sleep(30)"]))
                except OSError:
                    errors += 1
            for p in procs:
                p.kill()
            return len(procs), errors
    """, max_processes=10)
    started, errors = cand.call("spawn", timeout=60)
    assert started < 10 and errors > 0


@pytest.mark.parametrize("level", NAMESPACED, ids=level_id)
def test_no_network(level):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    code = f"""
import socket
def connect():
    try:
        socket.create_connection(("127.0.0.1", {port}), timeout=2).close()
        return "connected"
    except OSError as exc:
        return type(exc).__name__
"""
    try:
        with Candidate.create(code, isolation=level) as cand:
            assert cand.call("connect", timeout=20) != "connected"
    finally:
        server.close()


def test_run_command_with_stdin_and_program_placeholder(make_candidate):
    cand = make_candidate("""
        import sys
        data = sys.stdin.read()
        print(data.upper())
        print("err", file=sys.stderr)
        sys.exit(3)
    """, filename="prog.py")
    out = cand.run([PY, "{program}"], stdin="hello", timeout=20)
    assert out.returncode == 3 and out.stdout.strip() == "HELLO" and out.stderr.strip() == "err"
    assert not out.timed_out and out.seconds > 0
    shell = cand.run(["sh", "-c", "echo $0; exit 0", "{program}"], timeout=20)
    assert shell.stdout.strip() == str(cand.path)


def test_run_timeout(make_candidate):
    cand = make_candidate("import time\ntime.sleep(600)\n")
    out = cand.run([PY, "{program}"], timeout=1.0)
    assert out.timed_out and out.returncode != 0 and out.seconds < 120  # killed long before its sleep ends


def test_call_refuses_non_python_and_bad_arguments(make_candidate):
    cand = make_candidate("echo hi\n", filename="prog.sh")
    assert cand.language == "shell"
    with pytest.raises(TypeError, match="use candidate.run"):
        cand.call("f")
    py = make_candidate("def f(x):\n    return x\n")
    with pytest.raises(TypeError, match="cannot send arguments"):
        py.call("f", object())
    with pytest.raises(ValueError, match="identifier"):
        py.call("os.system")
