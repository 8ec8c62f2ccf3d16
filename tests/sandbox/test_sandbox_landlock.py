"""The landlock isolation level on the real kernel: the launcher, the Landlock ruleset, the
seccomp filter, the fallbacks of `auto`, and what the trusted side keeps to itself.

bwrap is installed on the development machines, so every test here names landlock explicitly;
`auto` without bwrap is tested by a PATH that lacks it (and lacks unshare, for the variant
without namespaces). Nothing is mocked: each check starts real processes.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sandbox_helpers import write_task

from evoforge.sandbox import (
    Candidate,
    detect_isolation,
    evaluate_code,
    guarantees,
    landlock,
    seccomp,
)
from evoforge.sandbox import isolation as iso
from evoforge.sandbox.isolation import IsolationLevel, clean_env

ABI = landlock.abi_version()
pytestmark = pytest.mark.skipif(ABI < 1 or not iso.probe(IsolationLevel.LANDLOCK),
                                reason="Landlock is not available on this kernel")
L = IsolationLevel.LANDLOCK


@pytest.fixture
def fresh_probes(monkeypatch):
    monkeypatch.setattr(iso, "_probed", {})
    monkeypatch.setattr(iso, "_announced", set())


def _path_with(tmp_path: Path, names: list[str]) -> str:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for name in names:
        real = shutil.which(name)
        if real:
            (bindir / name).symlink_to(real)
    return str(bindir)


def _launch(work: Path, code: str, *extra: str, ro: list[str] = (), env: dict | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `code` under the launcher alone (no namespaces): Landlock + seccomp only."""
    argv = [sys.executable, "-I", "-S", iso.LAUNCHER]
    for kind, paths in iso.landlock_paths(ro).items():
        for path in paths:
            argv += [f"--{kind}", path]
    argv += ["--rw", str(work), "--tmpdir", str(work), *extra, "--",
             sys.executable, "-c", textwrap.dedent(code)]
    return subprocess.run(argv, cwd=str(work), env=env or clean_env(str(work)), text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


# -- choosing the level ------------------------------------------------------------------------

def test_auto_falls_back_to_landlock_when_bwrap_is_missing(tmp_path, monkeypatch, fresh_probes,
                                                           caplog):
    monkeypatch.setenv("PATH", _path_with(tmp_path, ["unshare"]))
    with caplog.at_level(logging.INFO, logger="evoforge.sandbox"):
        level = detect_isolation("auto")
    assert level == L
    setup = iso.landlock_setup()
    assert setup is not None and setup.abi == ABI
    if shutil.which("unshare") and iso.probe(IsolationLevel.UNSHARE):
        assert setup.namespaces == "full"
    line = level.describe()
    assert line.startswith(f"landlock ABI {ABI}")
    assert "holds: host files hidden, writes only in the work dir" in line
    assert "sandbox: landlock ABI" in caplog.text
    assert "| guarantee | bwrap | landlock | unshare | none |" in caplog.text  # the table


def test_landlock_without_user_namespaces_still_confines(tmp_path, monkeypatch, fresh_probes):
    """No bwrap, no unshare (as where user namespaces are forbidden): Landlock alone."""
    monkeypatch.setenv("PATH", _path_with(tmp_path, []))
    assert detect_isolation("auto") == L
    setup = iso.landlock_setup()
    assert setup is not None and setup.namespaces == "none"
    described = L.describe()
    assert "no namespaces" in described and "own pid namespace" in described.split("does NOT hold:")[1]
    secret = tmp_path / "secret.txt"
    secret.write_text("HOST-SECRET")
    with Candidate.create(f"""
import socket
def f():
    seen = {{}}
    try:
        seen["file"] = open({str(secret)!r}).read()
    except OSError as exc:
        seen["file"] = type(exc).__name__
    for family, kind in (("inet", socket.SOCK_DGRAM), ("inet", socket.SOCK_STREAM)):
        try:
            socket.socket(socket.AF_INET, kind).close()
            seen[f"{{family}}-{{kind}}"] = "created"
        except OSError as exc:
            seen[f"{{family}}-{{kind}}"] = type(exc).__name__
    return seen
""", isolation=L) as cand:
        seen = cand.call("f", timeout=60)
    assert seen["file"] == "PermissionError"
    # no network namespace: seccomp refuses AF_INET sockets (Landlock only covers TCP)
    assert set(seen.values()) == {"PermissionError"}, seen


def test_an_older_abi_is_said_aloud(tmp_path, monkeypatch, fresh_probes, caplog):
    monkeypatch.setenv("EVOFORGE_LANDLOCK_ABI", "3")
    with caplog.at_level(logging.WARNING, logger="evoforge.sandbox"):
        assert detect_isolation("landlock") == L
    assert iso.landlock_setup().abi == min(3, ABI)
    assert "older kernel: TCP bind/connect not filtered by Landlock (ABI < 4)" in caplog.text
    assert "signals and abstract unix sockets not scoped (ABI < 6)" in caplog.text
    with Candidate.create("def f():\n    return open('/etc/hostname').read()\n",
                          isolation=L) as cand:
        with pytest.raises(Exception, match="PermissionError"):
            cand.call("f", timeout=60)


def test_missing_features_by_abi():
    assert landlock.missing_features(1) == [landlock.FEATURES[k] for k in (2, 3, 4, 5, 6)]
    assert landlock.missing_features(6) == []
    assert landlock.handled_net(3) == 0 and landlock.handled_net(4) == 3
    assert landlock.scoped(5) == 0 and landlock.scoped(6) == 3
    assert landlock.handled_fs(1) == (1 << 13) - 1 and landlock.handled_fs(5) == (1 << 16) - 1


def test_guarantees_table_names_every_level():
    table = guarantees.table()
    assert table.splitlines()[0] == "| guarantee | bwrap | landlock | unshare | none |"
    assert len(table.splitlines()) == 2 + len(guarantees.ROWS)
    assert "host files unreadable" in table


# -- the launcher ----------------------------------------------------------------------------

def test_launcher_refuses_bad_options_without_running_anything(tmp_path):
    out = subprocess.run([sys.executable, "-I", "-S", iso.LAUNCHER, "--bogus", "x", "--",
                          "touch", str(tmp_path / "ran")], capture_output=True, text=True)
    assert out.returncode == 125 and "unknown option '--bogus'" in out.stderr
    assert not (tmp_path / "ran").exists()


def test_launcher_reports_what_holds(tmp_path):
    argv = [sys.executable, "-I", "-S", iso.LAUNCHER, "--rw", str(tmp_path), "--status"]
    held = json.loads(subprocess.run(argv, capture_output=True, text=True, check=True).stdout)
    assert held == {"landlock_abi": ABI, "net": ABI >= 4, "scoped": ABI >= 6,
                    "seccomp": seccomp.supported()}


def test_files_outside_the_allowed_set_stay_closed(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "evaluate.py").write_text("ANSWER = 42\n")
    home_file = Path.home() / ".evoforge-landlock-probe"
    out = _launch(work, f"""
        import os, subprocess, tempfile
        seen = {{}}
        for name, path in (("task", {str(tmp_path / 'task' / 'evaluate.py')!r}),
                           ("etc", "/etc/hostname"), ("source", {iso.__file__!r})):
            try:
                open(path).read(); seen[name] = "read"
            except OSError as exc:
                seen[name] = type(exc).__name__
        for name, path in (("tmp", "/tmp/evoforge-landlock-escape"),
                           ("home", {str(home_file)!r}), ("parent", "../planted")):
            try:
                open(path, "w").write("x"); seen[name] = "written"
            except OSError as exc:
                seen[name] = type(exc).__name__
        try:
            os.listdir({str(tmp_path)!r}); seen["list"] = "listed"
        except OSError as exc:
            seen["list"] = type(exc).__name__
        fd, tmp = tempfile.mkstemp(); os.close(fd)       # TMPDIR is the work dir
        seen["tempfile"] = os.path.dirname(tmp)
        with open("tool.sh", "w") as fh:
            fh.write("#!/bin/sh\\necho built-and-run\\n")
        os.chmod("tool.sh", 0o755)
        seen["exec"] = subprocess.run(["./tool.sh"], capture_output=True, text=True).stdout
        print(repr(seen))
    """)
    assert out.returncode == 0, out.stderr
    seen = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own repr()
    assert seen["task"] == seen["etc"] == seen["source"] == "PermissionError", seen
    assert seen["tmp"] == seen["home"] == seen["parent"] == "PermissionError", seen
    assert seen["list"] == "PermissionError"
    assert seen["tempfile"] == str(work) and seen["exec"] == "built-and-run\n"
    assert not Path("/tmp/evoforge-landlock-escape").exists() and not home_file.exists()
    assert not (tmp_path / "planted").exists()


HOST = """
import ctypes, sys, time
secret = ctypes.create_string_buffer(b"HOST-MEMORY-SECRET-5a9c")
print(ctypes.addressof(secret), flush=True)
time.sleep(120)
"""

PRY = """
import ctypes, os, sys
pid, addr = int(sys.argv[1]), int(sys.argv[2])
libc = ctypes.CDLL(None, use_errno=True)
seen = {}
def attempt(name, fn):
    try:
        seen[name] = fn()
    except OSError as exc:
        seen[name] = type(exc).__name__
def mem():
    with open(f"/proc/{pid}/mem", "rb") as fh:
        fh.seek(addr)
        return fh.read(23).decode(errors="replace")
attempt("mem", mem)
attempt("environ", lambda: open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
attempt("cwd", lambda: os.readlink(f"/proc/{pid}/cwd"))
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
buf = ctypes.create_string_buffer(23)
local, remote = iovec(ctypes.addressof(buf), 23), iovec(addr, 23)
libc.process_vm_readv.restype = ctypes.c_ssize_t
n = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0)
seen["vm_readv"] = buf.raw.decode(errors="replace") if n > 0 else os.strerror(ctypes.get_errno())
seen["ptrace"] = ("attached" if libc.ptrace(16, pid, 0, 0) == 0
                  else os.strerror(ctypes.get_errno()))
seen["signal"] = "sent" if libc.kill(pid, 0) == 0 else os.strerror(ctypes.get_errno())
print(repr(seen), flush=True)
"""


def test_the_evaluators_memory_and_environment_stay_private(tmp_path):
    """Landlock alone (same pid namespace, same uid: the worst case) keeps a host process's
    memory, environment and cwd out of reach; seccomp refuses ptrace and process_vm_readv;
    with ABI >= 6 even signal 0 is refused. The same probe unsandboxed shows it would work."""
    work = tmp_path / "work"
    work.mkdir()
    (work / "pry.py").write_text(PRY)
    host = subprocess.Popen([sys.executable, "-c", HOST], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "EVOFORGE_HOST_SECRET": "sk-host-env-secret"})
    try:
        addr = host.stdout.readline().strip()
        code = (f"import sys; sys.argv = ['pry', '{host.pid}', '{addr}']; "
                f"exec(open('pry.py').read())")
        out = _launch(work, code)
        control = subprocess.run([sys.executable, str(work / "pry.py"), str(host.pid), addr],
                                 capture_output=True, text=True, timeout=60)
    finally:
        host.kill()
        host.wait()
    assert out.returncode == 0, out.stderr
    seen = eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 - our own repr()
    assert seen["mem"] == seen["environ"] == "PermissionError", seen
    assert seen["cwd"] == "PermissionError", seen
    assert seen["vm_readv"] == seen["ptrace"] == os.strerror(1), seen  # EPERM: seccomp
    if ABI >= 6:
        assert seen["signal"] == os.strerror(1), seen
    plain = eval(control.stdout.strip().splitlines()[-1])  # noqa: S307
    assert "sk-host-env-secret" in plain["environ"], plain  # the probe is not toothless


# -- the level end to end ----------------------------------------------------------------------

def test_candidate_gets_numpy_multiprocessing_and_a_private_shm():
    before = set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()
    with Candidate.create("""
import multiprocessing, os
def f():
    with multiprocessing.Pool(2) as pool:
        squares = pool.map(abs, [-1, -2, -3])
    open("/dev/shm/evoforge-private", "w").write("x")
    try:
        import numpy
        total = float(numpy.arange(4).sum())
    except ImportError:
        total = 6.0
    return squares, total, os.getpid()
""", isolation=L) as cand:
        squares, total, pid = cand.call("f", timeout=60)
    assert squares == [1, 2, 3] and total == 6.0
    if iso.landlock_setup().pid_ns:
        assert pid < 10  # own pid namespace
        assert "evoforge-private" not in set(os.listdir("/dev/shm")) - before


def test_evaluator_files_stay_closed_to_the_candidate(tmp_path):
    task = write_task(tmp_path / "task", """
        from evoforge import Result
        def evaluate(candidate):
            seen = candidate.call("pry", timeout=30)
            # refused: by Landlock (EACCES) or, for writes, by the read-only mount first (EROFS)
            return Result(score=1.0, metrics={k: 1.0 if v in ("PermissionError", "EROFS") else 0.0
                                              for k, v in seen.items()})
    """, **{"hidden_answer.txt": "HIDDEN-42"})
    (tmp_path / "run.db").write_text("database")
    code = textwrap.dedent(f"""
        import os
        def pry():
            seen = {{}}
            for name, path, mode in (("evaluate", {str(task / 'evaluate.py')!r}, "r"),
                                     ("hidden", {str(task / 'hidden_answer.txt')!r}, "r"),
                                     ("database", {str(tmp_path / 'run.db')!r}, "r"),
                                     ("plant", {str(task / 'evaluate.py')!r}, "a")):
                try:
                    open(path, mode).close(); seen[name] = "opened"
                except OSError as exc:
                    seen[name] = "EROFS" if exc.errno == 30 else type(exc).__name__
            return seen
    """)
    ev = evaluate_code(task, code, isolation="landlock", timeout=120)
    assert ev.ok, ev.reason
    assert ev.isolation == "landlock"
    assert ev.result.metrics == {"evaluate": 1.0, "hidden": 1.0, "database": 1.0,
                                 "plant": 1.0}, ev.result.metrics
    assert "def evaluate" in (task / "evaluate.py").read_text()


@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler here")
def test_compiled_programs_build_and_run_in_the_work_dir():
    source = '#include <stdio.h>\nint main(void) { puts("compiled ok"); return 0; }\n'
    with Candidate.create(source, filename="main.c", isolation=L) as cand:
        built = cand.run(["cc", "-O1", "-o", "main", "{program}"], timeout=120)
        assert built.returncode == 0, built.stderr   # cc's temporaries go to TMPDIR
        ran = cand.run(["./main"], timeout=30)
    assert ran.stdout == "compiled ok\n"


def test_landlock_command_allows_only_what_python_needs(tmp_path):
    work, runtime = tmp_path / "w", tmp_path / "r"
    argv = iso.wrap_command(L, ["python", "x.py"], work_dir=str(work), ro_dirs=[str(runtime)])
    assert argv[-3:] == ["--", "python", "x.py"]
    launch = argv.index(iso.LAUNCHER)
    assert argv[launch - 3:launch] == [sys.executable, "-I", "-S"]
    opts = argv[launch + 1:argv.index("--", launch)]
    flags = [o for o in opts if o in ("--ro-root", "--no-seccomp")]   # the options without a value
    opts = [o for o in opts if o not in flags]
    assert ("--ro-root" in flags) == iso.landlock_setup().pid_ns   # host files' modes stay fixed
    pairs = list(zip(opts[::2], opts[1::2]))
    writable = [p for flag, p in pairs if flag == "--rw"]
    readable = [p for flag, p in pairs if flag in ("--rx", "--r")]
    assert writable == [str(work)]  # the work dir is the only writable place
    assert ("--tmpdir", str(work)) in pairs and ("--rx", str(runtime)) in pairs
    assert ("--deny-family", "1") in pairs or not seccomp.supported()  # AF_UNIX
    for path in readable:
        assert path not in ("/", "/tmp", "/etc", "/home", "/root", str(Path.home()))
        assert not path.startswith("/work/main") and not path.startswith(str(tmp_path / "w"))
    assert ("--dev", "/dev/null") in pairs and ("--r", "/proc") in pairs
