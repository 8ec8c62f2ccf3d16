"""Warm calls at the bwrap level (sandbox/warm_bwrap.py, sandbox/bwrap_call.py): a call forked
from the bwrap zygote sees exactly what a cold bwrap call sees, and a call whose folders the
zygote cannot serve runs cold, correctly.

Real bubblewrap, real namespaces: the same candidate is called cold and warm (the switch is
read per call) and the two views are compared field by field.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import textwrap
from pathlib import Path

import pytest

from evoforge.sandbox import Candidate, warm, warm_bwrap
from evoforge.sandbox.isolation import IsolationLevel, python_paths

BWRAP = IsolationLevel.BWRAP
pytestmark = pytest.mark.skipif(not warm.supported(BWRAP),
                                reason="warm bwrap needs bubblewrap with a user namespace")

VIEW = textwrap.dedent('''
    import os

    def _try_write(folder):
        try:
            with open(os.path.join(folder, ".evoforge-probe"), "w") as fh:
                fh.write("x")
        except OSError as exc:
            return type(exc).__name__
        os.remove(os.path.join(folder, ".evoforge-probe"))
        return "written"

    def _listing(folder):
        try:
            return sorted(os.listdir(folder))
        except OSError as exc:
            return type(exc).__name__

    def view():
        status = dict(line.split(":", 1) for line in open("/proc/self/status") if ":" in line)
        return {
            "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid(), os.getgroups()],
            "caps": [status[k].strip() for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")],
            "no_new_privs": status["NoNewPrivs"].strip(),
            "seccomp": status["Seccomp"].strip(),
            "pid": os.getpid(), "ppid": os.getppid(), "pgid": os.getpgid(0), "sid": os.getsid(0),
            "processes": sorted(p for p in os.listdir("/proc") if p.isdigit()),
            "root": _listing("/"), "tmp": _listing("/tmp"), "dev": _listing("/dev"),
            "shm": _listing("/dev/shm"), "etc": _listing("/etc"),
            "writes": {p: _try_write(p) for p in ("/", "/dev", "/tmp", "/dev/shm", "/etc",
                                                  "/usr", os.getcwd(), "/proc/sys/kernel")},
            "cwd": os.getcwd(), "env": dict(os.environ),
            "hostname": os.uname().nodename,
            "net": sorted(line.split(":")[0].strip() for line in open("/proc/net/dev")
                          if ":" in line),
            "loopback": _connect_local(),
            "modes": {p: oct(os.stat(p).st_mode) for p in ("/", "/tmp", "/dev", "/dev/shm")},
            "sigint_to_init": _sigint_init(),
        }

    def _connect_local():
        import socket
        try:
            socket.create_connection(("127.0.0.1", 9), timeout=5).close()
        except OSError as exc:
            return exc.errno
        return "connected"

    def _sigint_init():
        import signal, time
        os.kill(1, signal.SIGINT)   # pid 1 of the call: it must not end the call
        time.sleep(0.2)
        return os.getppid()
''')


def _tmp_listing(*mine: str) -> list[str]:
    """What a bwrap call's /tmp holds: its own folders, and the Python installation when it
    lives in /tmp (a venv there, as in CI)."""
    python = [p.split("/")[2] for p in python_paths() if p.startswith("/tmp/")]
    return sorted({*mine, *python})


@pytest.fixture(autouse=True)
def clean_zygotes():
    yield
    warm.shutdown_all()


def _view(cand: Candidate, monkeypatch: pytest.MonkeyPatch, warm_on: bool) -> dict:
    monkeypatch.setenv("EVOFORGE_SANDBOX_WARM", "1" if warm_on else "0")
    got = cand.call("view", timeout=60)
    assert cand.last_warm == warm_on, cand.last_stderr
    return got


def test_a_warm_call_sees_exactly_what_a_cold_one_sees(monkeypatch):
    with Candidate.create(VIEW, isolation=BWRAP) as cand:
        cold = _view(cand, monkeypatch, warm_on=False)
        warm_view = _view(cand, monkeypatch, warm_on=True)
        again = _view(cand, monkeypatch, warm_on=True)
    assert warm_view == cold
    assert again == warm_view   # nothing a call did is left for the next
    assert cold["ids"][:4] == [65534] * 4 and cold["caps"] == ["0000000000000000"] * 5
    assert cold["tmp"] == _tmp_listing(cand.root.name) and cold["processes"] == ["1", "2"]
    assert cold["writes"]["/tmp"] == cold["writes"][cold["cwd"]] == "written"
    assert cold["writes"]["/"] != "written" and cold["writes"]["/dev"] != "written"


def test_nothing_written_outside_the_work_dir_reaches_the_next_call(monkeypatch):
    code = textwrap.dedent('''
        import os
        def leave():
            for folder in ("/tmp", "/dev/shm"):
                with open(os.path.join(folder, "left-behind"), "w") as fh:
                    fh.write("x")
            return sorted(os.listdir("/tmp")) + sorted(os.listdir("/dev/shm"))
        def look():
            return sorted(os.listdir("/tmp")) + sorted(os.listdir("/dev/shm"))
    ''')
    monkeypatch.setenv("EVOFORGE_SANDBOX_WARM", "1")
    with Candidate.create(code, isolation=BWRAP) as cand:
        assert "left-behind" in cand.call("leave", timeout=60)
        assert cand.call("look", timeout=60) == _tmp_listing(cand.root.name)
        assert cand.n_warm_calls == 2


def test_folders_the_zygote_cannot_serve_run_cold(monkeypatch, tmp_path: Path):
    root = os.path.realpath(tempfile.gettempdir())
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    assert warm_bwrap.call_mounts(root, f"{root}/x/program", [f"{root}/x/runtime"]) is not None
    assert warm_bwrap.call_mounts(str(outside), "/var/x/program", ["/var/x/runtime"]) is None
    link = tmp_path / "link"
    link.symlink_to(outside)
    assert warm_bwrap.call_mounts(root, str(link / "program"), [str(link / "runtime")]) is None
    # a scratch root of its own, then a candidate made outside it: cold, and still right
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "root"))
    (tmp_path / "root").mkdir()
    monkeypatch.setenv("EVOFORGE_SANDBOX_WARM", "1")
    with Candidate.create("def f(x):\n    return x + 1\n", isolation=BWRAP,
                          parent_dir=outside) as cand:
        assert cand.call("f", 1, timeout=60) == 2 and not cand.last_warm
    with Candidate.create("def f(x):\n    return x + 2\n", isolation=BWRAP) as cand:
        assert cand.call("f", 1, timeout=60) == 3 and cand.last_warm


def test_a_scratch_root_outside_tmp_is_served_too(monkeypatch):
    """The temp folder elsewhere (TMPDIR=/var/tmp/...): each call's view gets a fresh tmpfs
    there with only its own folders, as well as its own /tmp."""
    try:
        root = tempfile.mkdtemp(prefix="evoforge-test-root-", dir="/var/tmp")
    except OSError:
        pytest.skip("no writable /var/tmp here")
    other = tempfile.mkdtemp(prefix="evoforge-other-", dir=root)
    try:
        monkeypatch.setattr(tempfile, "tempdir", root)
        with Candidate.create(VIEW, isolation=BWRAP) as cand:
            cold = _view(cand, monkeypatch, warm_on=False)
            warm_view = _view(cand, monkeypatch, warm_on=True)
            listing = cand.call("_listing", root, timeout=60)
            assert cand.last_warm
        assert warm_view == cold
        assert listing == [cand.root.name], "another folder of the scratch root was visible"
        assert os.path.basename(other) not in listing
    finally:
        warm.shutdown_all()
        shutil.rmtree(root)   # the folders, and the seccomp filter cold bwrap keeps there
