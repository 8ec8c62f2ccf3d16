"""Isolation detection, fallback and the wrapper command lines (real probes, real binaries)."""
from __future__ import annotations

import logging
import os
import shutil
import sys
import time

import pytest
from sandbox_helpers import AVAILABLE, HAS_BWRAP, HAS_CGROUPS, needs_bwrap

from evoforge.errors import UserError
from evoforge.sandbox import Candidate, detect_isolation
from evoforge.sandbox import isolation as iso
from evoforge.sandbox import landlock
from evoforge.sandbox.isolation import IsolationLevel, clean_env, wrap_command


@pytest.fixture
def fresh_probes(monkeypatch):
    """Forget cached probe results for the duration of a test."""
    monkeypatch.setattr(iso, "_probed", {})
    monkeypatch.setattr(iso, "_announced", set())


def _path_with(tmp_path, tools: dict[str, str | None]) -> str:
    """A PATH holding only the given tools (name -> real path, or None for a broken stub)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name, real in tools.items():
        target = bindir / name
        if real is None:
            target.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' "
                              ">&2\nexit 1\n")
            target.chmod(0o755)
        else:
            target.symlink_to(real)
    return str(bindir)


def test_levels_are_ordered_and_parsed():
    assert (IsolationLevel.BWRAP > IsolationLevel.LANDLOCK > IsolationLevel.UNSHARE
            > IsolationLevel.NONE)
    assert IsolationLevel.parse("landlock") is IsolationLevel.LANDLOCK
    assert IsolationLevel.parse("BWrap") is IsolationLevel.BWRAP
    assert IsolationLevel.parse(IsolationLevel.NONE) is IsolationLevel.NONE
    with pytest.raises(UserError, match="unknown sandbox isolation 'docker'"):
        IsolationLevel.parse("docker")
    for level in IsolationLevel:
        assert level.describe()


def test_detect_picks_the_strongest_available():
    assert detect_isolation() == max(AVAILABLE)
    assert detect_isolation("auto", require="none") == max(AVAILABLE)
    assert detect_isolation("none") == IsolationLevel.NONE


def test_require_is_a_minimum():
    if max(AVAILABLE) < IsolationLevel.UNSHARE:
        pytest.skip("needs unshare or bwrap")
    assert detect_isolation(require="unshare") == max(AVAILABLE)
    with pytest.raises(UserError, match="weaker than the required 'unshare'"):
        detect_isolation("none", require="unshare")


def test_fallback_when_bwrap_is_missing(tmp_path, monkeypatch, fresh_probes, caplog):
    unshare = shutil.which("unshare")
    tools = {"unshare": unshare} if unshare else {}
    monkeypatch.setenv("PATH", _path_with(tmp_path, tools))
    with caplog.at_level(logging.INFO, logger="evoforge.sandbox"):
        level = detect_isolation()
    assert level < IsolationLevel.BWRAP
    if landlock.abi_version() >= 1:  # the kernel has Landlock: auto falls back to it
        assert level == IsolationLevel.LANDLOCK
        assert "sandbox: landlock ABI" in caplog.text
    assert "sandbox:" in caplog.text  # degraded levels are said aloud
    with pytest.raises(UserError, match="apt-get install bubblewrap"):
        detect_isolation(require="bwrap")
    with pytest.raises(UserError, match="'bwrap' is not available"):
        detect_isolation("bwrap")


def test_fallback_when_bwrap_is_installed_but_broken(tmp_path, monkeypatch, fresh_probes):
    monkeypatch.setenv("PATH", _path_with(tmp_path, {"bwrap": None}))
    # no unshare either: Landlock still applies (it needs no namespaces), else nothing does
    expected = (IsolationLevel.LANDLOCK if landlock.abi_version() >= 1
                else IsolationLevel.NONE)
    assert detect_isolation() == expected
    with pytest.raises(UserError):
        Candidate.create("x = 1\n", isolation="bwrap")


def test_announced_once(fresh_probes, caplog):
    with caplog.at_level(logging.INFO, logger="evoforge.sandbox"):
        detect_isolation("none")
        detect_isolation("none")
    assert caplog.text.count("NO ISOLATION") == 1


def test_clean_env_has_no_secrets(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-x")
    env = clean_env("/work/dir")
    assert env["HOME"] == "/work/dir" and env["PYTHONDONTWRITEBYTECODE"] == "1"
    assert "OPENAI_API_KEY" not in env and os.path.dirname(sys.executable) in env["PATH"]


@needs_bwrap
def test_bwrap_command_binds_only_what_python_needs(tmp_path):
    work, runtime = tmp_path / "w", tmp_path / "r"
    argv = wrap_command(IsolationLevel.BWRAP, ["python", "x.py"], work_dir=str(work),
                        ro_dirs=[str(runtime)])
    assert argv[-3:] == ["--", "python", "x.py"]
    assert "--unshare-all" in argv and "--die-with-parent" in argv and "--new-session" in argv
    assert ["--bind", str(work), str(work)] == argv[argv.index("--bind"):argv.index("--bind") + 3]
    assert argv.count("--bind") == 1  # the work dir is the only writable mount
    mounted = {argv[i + 2] for i, a in enumerate(argv) if a in ("--ro-bind", "--bind",
                                                               "--ro-bind-try")}
    assert not any(m == "/" or m.startswith("/work/main") or m == "/root" for m in mounted)
    assert "/etc" not in mounted


@needs_bwrap
def test_bwrap_sandbox_drops_privileges_and_keeps_system_read_only():
    code = """
import os
def probe():
    status = dict(l.split(":\\t", 1) for l in open("/proc/self/status").read().splitlines()
                  if ":\\t" in l)
    def writable(p):
        try:
            open(os.path.join(p, ".evoforge-probe"), "w").close()
            return True
        except OSError:
            return False
    return {"cap": status["CapEff"].strip(), "pid": os.getpid(), "usr": writable("/usr"),
            "tmp": writable("/tmp"), "cwd": writable(".")}
"""
    with Candidate.create(code, isolation="bwrap") as cand:
        seen = cand.call("probe", timeout=30)
    assert int(seen["cap"], 16) == 0  # no capabilities, even when the engine runs as root
    assert seen["pid"] < 10  # own pid namespace
    assert seen == {**seen, "usr": False, "tmp": True, "cwd": True}


def test_all_levels_run_python():
    for level in AVAILABLE:
        with Candidate.create("def f():\n    return 'hi'\n", isolation=level) as cand:
            assert cand.call("f", timeout=30) == "hi"
    assert HAS_BWRAP or IsolationLevel.BWRAP not in AVAILABLE


def test_abandoned_scratch_dirs_are_swept(tmp_path):
    """A SIGKILLed engine cannot clean up; the next process removes what it left."""
    from evoforge.sandbox._scratch import Scratch, sweep_stale

    abandoned = tmp_path / "evoforge-eval-99999999-abc"
    (abandoned / "evoforge-cand-1-x" / "program").mkdir(parents=True)
    live = Scratch("eval", tmp_path)
    other = tmp_path / "unrelated"
    other.mkdir()
    old = time.time() - 3600
    for path in (abandoned, live.path, other):
        os.utime(path, (old, old))
    assert sweep_stale(tmp_path) == 1
    assert not abandoned.exists() and live.path.exists() and other.exists()
    live.remove()
    assert not live.path.exists()


@pytest.mark.skipif(not HAS_CGROUPS, reason="needs a writable cgroup hierarchy")
def test_abandoned_cgroups_are_swept():
    import subprocess

    from evoforge.sandbox._cgroup import Cgroup, sweep_stale
    from evoforge.sandbox.limits import make_preexec

    empty, busy = Cgroup.create(), Cgroup.create()
    proc = subprocess.Popen(["sleep", "30"], preexec_fn=make_preexec(
        [], cgroup_procs=busy.procs_files))
    try:
        time.sleep(2.1)  # names carry whole seconds
        sweep_stale(min_age=1)
        assert not any(d.exists() for _, d in empty.dirs)
        assert all(d.exists() for _, d in busy.dirs)
    finally:
        busy.remove()
        proc.wait()
    assert not any(d.exists() for _, d in busy.dirs)
