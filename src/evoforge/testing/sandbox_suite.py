"""A conformance suite that every sandbox isolation level must pass.

In the spirit of Optuna's ``testing/pytest_storages.py``: one set of tests, run against each
implementation. Subclass `SandboxTestCase` once per level::

    from evoforge.testing.sandbox_suite import SandboxTestCase

    class TestBwrap(SandboxTestCase):
        level = "bwrap"

Every test checks one *property* of the sandbox (see `PROPERTIES`). The levels do not all
promise the same things (``isolation.py`` says so aloud): file-system hiding is bubblewrap's
and Landlock's, the network is closed by all but a plain subprocess, and so on.
Where a level does not promise a property the test is *not* skipped: it runs, and it must
fail with `Breach` - pytest reports it as ``xfailed`` with the documented reason. If such a
test passes (``XPASS(strict)``, a failure), the table below is out of date: the level is
stronger than it claims, update `PROPERTIES` and the level's description together. A test
that fails in any other way (an exception, a wrong error message) is a real failure.

The checks are real: real processes, a real TCP listener and unix sockets that record what
reaches them, real files on the host that must not change, real marker processes that must
be gone. Only the standard library, pytest and evoforge are needed (numpy is not).
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from evoforge.sandbox import (
    Candidate,
    CandidateError,
    CandidateTimeout,
    IsolationLevel,
    Result,
    SandboxLimits,
    evaluate_code,
)
from evoforge.sandbox._cgroup import hierarchies
from evoforge.sandbox.isolation import probe

PY = sys.executable
SECRET_ENV = {"OPENAI_API_KEY": "sk-secret-conformance-openai",
              "ANTHROPIC_API_KEY": "sk-ant-secret-conformance",
              "EVOFORGE_TEST_TOKEN": "token-secret-conformance"}
ALLOWED_ENV = {"PATH", "LANG", "PYTHONHASHSEED", "HOME", "PYTHONDONTWRITEBYTECODE",
               "PYTHONUSERBASE", "PWD",  # bwrap sets PWD for --chdir
               "TMPDIR"}  # landlock: the work dir, /tmp is not writable there


class Breach(AssertionError):
    """The sandbox let something through that the property under test forbids."""


def breach_if(condition: Any, message: str) -> None:
    if condition:
        raise Breach(message)


# -- what each level promises ------------------------------------------------------------------

def cgroups_writable() -> bool:
    """Whether a writable cgroup hierarchy is available (processes are then tracked by cgroup)."""
    return bool(hierarchies())


def has_capability(bit: int) -> bool:
    """Whether this process holds capability number `bit` (CAP_SYS_PTRACE=19, ...)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except OSError:
        pass
    return False


CAP_SYS_PTRACE = 19
CAP_SYS_RESOURCE = 24


def _yama_scope() -> int:
    """kernel.yama.ptrace_scope (0 when Yama is absent: classic same-uid ptrace rules)."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", encoding="ascii") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _pids_cgroup_works() -> bool:
    from evoforge.sandbox._cgroup import Cgroup

    group = Cgroup.create(8)
    if group is None:
        return False
    try:
        return group.limits_pids
    finally:
        group.remove()


def _memory_cgroup_works() -> bool:
    from evoforge.sandbox._cgroup import Cgroup

    group = Cgroup.create(memory_mb=64)
    if group is None:
        return False
    try:
        return group.limits_memory
    finally:
        group.remove()


def memory_cgroup_works() -> bool:
    """Whether a memory cgroup can bound a candidate's whole process tree here (cached)."""
    return _conditions()["memory-cgroup"]


def conditions() -> dict[str, bool]:
    """Facts about this machine that change what the weaker levels can promise (cached)."""
    return dict(_conditions())


@functools.lru_cache(maxsize=1)
def _conditions() -> dict[str, bool]:
    root = os.getuid() == 0
    cgroups = cgroups_writable()
    return {
        "root": root,
        "cgroups": cgroups,
        "no-cgroups": not cgroups,
        # RLIMIT_NPROC is ignored for root: only a pids cgroup caps processes then.
        "no-pids-cap": root and not _pids_cgroup_works(),
        # Without a memory cgroup, memory_mb is RLIMIT_AS: per process, not per tree.
        "memory-cgroup": _memory_cgroup_works(),
        "no-memory-cgroup": not _memory_cgroup_works(),
        "no-capabilities": _engine_has_no_capabilities(),
        "cap_sys_ptrace": has_capability(CAP_SYS_PTRACE),
        # May a plain process trace a non-descendant of the same user (the evaluator host)?
        "ptrace_allowed": has_capability(CAP_SYS_PTRACE) or _yama_scope() == 0,
        "cap_sys_resource": has_capability(CAP_SYS_RESOURCE),
        # landlock's column depends on the namespaces and the ABI its probe found
        "landlock-no-pidns": _landlock_lacks("pid_ns"),
        "landlock-no-netns": _landlock_lacks("net_ns"),
        "landlock-no-seccomp": _landlock_lacks("seccomp"),
        "landlock-no-seccomp-no-netns": _landlock_lacks("seccomp") and _landlock_lacks("net_ns"),
        "bwrap-no-seccomp": not _bwrap_seccomp(),
        "ptrace_denied": not (has_capability(CAP_SYS_PTRACE) or _yama_scope() == 0),
        "landlock-unscoped": _landlock_lacks("pid_ns") and landlock_setup_abi() < 6,
    }


def _landlock_setup():  # type: ignore[no-untyped-def]
    from evoforge.sandbox.isolation import landlock_setup

    probe(IsolationLevel.LANDLOCK)
    return landlock_setup()


def _bwrap_seccomp() -> bool:
    from evoforge.sandbox.isolation import recipe_for

    return "seccomp" in (recipe_for(IsolationLevel.BWRAP) or [])[2:]


def landlock_setup_abi() -> int:
    setup = _landlock_setup()
    return setup.abi if setup else 0


def _landlock_lacks(feature: str) -> bool:
    setup = _landlock_setup()
    return setup is not None and not getattr(setup, feature)


@dataclass(frozen=True)
class Property:
    """A promise of the sandbox, with the levels that keep it and why the others do not."""

    name: str
    summary: str
    levels: frozenset[IsolationLevel]
    weaker: dict[IsolationLevel, str] = field(default_factory=dict)
    # Extra (level, condition) pairs under which the property holds after all, or fails after all.
    also_when: tuple[tuple[IsolationLevel, str], ...] = ()
    unless: tuple[tuple[IsolationLevel, str], ...] = ()

    def provided(self, level: IsolationLevel, facts: dict[str, bool] | None = None) -> bool:
        facts = conditions() if facts is None else facts
        ok = level in self.levels or any(level == lv and facts.get(c, False)
                                         for lv, c in self.also_when)
        return ok and not any(level == lv and facts.get(c, False) for lv, c in self.unless)

    def why_not(self, level: IsolationLevel) -> str:
        return self.weaker.get(level, f"{level.name.lower()} does not promise: {self.summary}")


ALL = frozenset(IsolationLevel)
B = IsolationLevel.BWRAP
L = IsolationLevel.LANDLOCK
U = IsolationLevel.UNSHARE
N = IsolationLevel.NONE
_PLAIN = "plain subprocess level: no isolation beyond rlimits (documented, loud warning)"
_NO_FS = "no file-system isolation at this level: the whole host file system is visible"
_RW_FS = ("no file-system isolation at this level: the host file system is writable with the "
          "user's rights (isolation.py describes unshare as 'CAN READ' only)")
_RW_FS_PLAIN = "plain subprocess level: the host file system is writable (documented)"

PROPERTIES: dict[str, Property] = {p.name: p for p in [
    Property("plain_data", "results cross the boundary as plain data, never objects", ALL),
    Property("exit_is_not_success", "exit code 0 or sys.exit(0) is never an answer", ALL),
    Property("timeout_kills_tree", "on timeout the whole process tree is killed", ALL),
    Property("kills_daemons", "a double-forked daemon (own session) is killed too",
             frozenset({B, L, U}), {N: "plain level without a writable cgroup: a daemon that "
                                       "left its process group escapes (documented)",
                                    L: "landlock without a pid namespace (no user namespaces "
                                       "here) and without a writable cgroup"},
             also_when=((N, "cgroups"),),
             unless=((L, "landlock-no-pidns"),)),
    Property("clean_environment", "no inherited environment variables (API keys)", ALL),
    Property("fresh_work_dir", "a fresh private work dir per candidate, removed afterwards", ALL),
    Property("clock_outside", "time is measured by the parent, not by the candidate", ALL),
    Property("output_capped", "stdout/stderr kept up to max_output_bytes", ALL),
    Property("result_capped", "the result is refused above max_result_bytes", ALL),
    Property("memory_limit", "one process cannot allocate more than memory_mb", ALL),
    Property("tree_memory_limit", "all the candidate's processes together cannot hold more "
             "than memory_mb (memory cgroup)", ALL,
             unless=((B, "no-memory-cgroup"), (U, "no-memory-cgroup"), (N, "no-memory-cgroup")),
             weaker={lv: "no writable memory cgroup here: memory_mb is RLIMIT_AS, a limit per "
                         "process (documented in limits.py)" for lv in ALL}),
    Property("disk_limit", "the work dir cannot hold more than disk_mb, deleted-but-open files "
             "included", ALL),
    Property("cpu_limit", "a process cannot burn more CPU than cpu_seconds", ALL),
    Property("file_size_limit", "a file cannot grow beyond file_size_mb", ALL),
    Property("open_files_limit", "at most open_files file descriptors", ALL),
    Property("process_limit", "at most max_processes processes",
             ALL, unless=((B, "no-pids-cap"), (U, "no-pids-cap"), (N, "no-pids-cap")),
             weaker={lv: "running as root without a pids cgroup: RLIMIT_NPROC is ignored for "
                         "root, nothing caps processes (documented in limits.py)" for lv in ALL}),
    Property("rlimits_stick", "a candidate cannot raise its own limits", ALL,
             unless=((N, "cap_sys_resource"),), weaker={N: _PLAIN + " (CAP_SYS_RESOURCE)"}),
    Property("no_network", "no TCP/UDP to the host (127.0.0.1)", frozenset({B, L, U}),
             {N: _PLAIN, L: "landlock without a network namespace and without seccomp here"},
             unless=((L, "landlock-no-seccomp-no-netns"),)),
    Property("no_host_unix_sockets", "no path-based unix sockets of the host (docker.sock)",
             frozenset({B, L}), {U: "unshare hides the network, not the file system: "
                                    "path-based unix sockets stay reachable", N: _PLAIN,
                                 L: "Landlock does not filter connect() to path-based unix "
                                    "sockets and seccomp is not available here"},
             unless=((L, "landlock-no-seccomp"),)),
    Property("no_abstract_sockets", "no abstract unix sockets of the host",
             frozenset({B, L, U}), {N: _PLAIN}),
    Property("hides_host_files", "host files (task folder, hidden data) are not readable",
             frozenset({B, L}), {U: _NO_FS, N: _NO_FS}),
    Property("host_read_only", "nothing outside the work dir can be written on the host",
             frozenset({B, L}), {U: _RW_FS, N: _RW_FS_PLAIN}),
    Property("isolates_candidates", "a candidate cannot touch another candidate's folder",
             frozenset({B, L}), {U: _RW_FS, N: _RW_FS_PLAIN}),
    Property("hides_processes", "other processes (and their /proc/PID/environ) are invisible",
             frozenset({B, L, U}), {N: _PLAIN}),
    Property("host_memory_private", "the evaluator's memory and files stay out of reach "
             "(ptrace, process_vm_readv, /proc/PID/mem)", frozenset({B, L, U}),
             {N: _PLAIN + " (same user, ptrace allowed)"}, also_when=((N, "ptrace_denied"),)),
    Property("drops_capabilities", "the candidate holds no capabilities at all",
             frozenset({B, L}),
             {U: "unshare maps the candidate to root of its own user namespace: it holds every "
                 "capability there (not over the host)",
              N: "plain level: the candidate keeps the capabilities of the engine's user"},
             also_when=((N, "no-capabilities"),)),
    Property("seccomp_filter", "ptrace, keyctl, io_uring ... return EPERM (seccomp)",
             frozenset({B, L}), {U: "unshare installs no seccomp filter: the candidate is root "
                                    "of its user namespace and may call them",
                                 N: _PLAIN, B: "bwrap without our filter here (no filter for "
                                               "this architecture, or bwrap refused it)",
                                 L: "no seccomp filter for this architecture"},
             unless=((B, "bwrap-no-seccomp"), (L, "landlock-no-seccomp"))),
    Property("evaluator_survives", "the candidate cannot kill the trusted evaluator process",
             frozenset({B, L, U}), {N: _PLAIN, L: "landlock without a pid namespace on a "
                                                   "kernel without signal scoping (ABI < 6)"},
             unless=((L, "landlock-unscoped"),)),
]}


def provides(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator naming the property a conformance test checks."""
    if name not in PROPERTIES:
        raise KeyError(f"unknown sandbox property {name!r}")

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.sandbox_property = name  # type: ignore[attr-defined]
        return fn

    return mark


def available_levels() -> list[IsolationLevel]:
    """The levels that work on this machine (probed for real, cached)."""
    return [level for level in IsolationLevel if probe(level)]


def expectation_table(facts: dict[str, bool] | None = None) -> str:
    """PROPERTIES on this machine as a text table: "yes" where a level promises the property,
    "no" where its conformance test is an expected failure (printed by
    benchmarks/bench_isolation.py)."""
    facts = conditions() if facts is None else facts
    levels = [B, L, U, N]
    lines = [f"{'property':22} " + " ".join(f"{lv.name.lower():8}" for lv in levels)]
    for prop in PROPERTIES.values():
        marks = ["yes" if prop.provided(lv, facts) else "no" for lv in levels]
        lines.append(f"{prop.name:22} " + " ".join(f"{m:8}" for m in marks))
    return "\n".join(lines)


def _engine_has_no_capabilities() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16) == 0
    except OSError:
        pass
    return True


# -- observers on the host -----------------------------------------------------------------------

def new_marker() -> str:
    return f"evoforge-conformance-{uuid.uuid4().hex}"


def processes_with(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `marker`, seen from the host.
    Works across pid namespaces (pids a namespaced candidate reports mean nothing here)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if marker.encode() in cmdline and state != b"Z":
            found.append(int(entry))
    return found


def wait_gone(marker: str, seconds: float = 3.0) -> list[int]:
    """Wait until no process carries `marker`; return the survivors (empty = all dead)."""
    deadline = time.monotonic() + seconds
    while True:
        alive = processes_with(marker)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def kill_marked(marker: str) -> None:
    for pid in processes_with(marker):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def tree_digest(path: str | Path) -> str:
    """A hash of every name and byte under `path` (a file or a folder); '' if it is missing."""
    path = Path(path)
    digest = hashlib.sha256()
    if not path.exists():
        return ""
    items = [path] if path.is_file() else sorted(p for p in path.rglob("*"))
    for item in items:
        digest.update(str(item.relative_to(path.parent)).encode())
        if item.is_file() and not item.is_symlink():
            digest.update(item.read_bytes())
    return digest.hexdigest()


class Listener:
    """Real endpoints on the host that record whatever reaches them: a TCP and a UDP port on
    127.0.0.1, a path-based unix socket and an abstract unix socket. `received` lists
    (endpoint, bytes) pairs; a connection with no data is recorded too."""

    def __init__(self, folder: str | Path) -> None:
        self.received: list[tuple[str, bytes]] = []
        self._busy = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.port = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp_port = self.udp.getsockname()[1]
        self.unix_path = str(Path(folder) / f"agent-{uuid.uuid4().hex[:8]}.sock")
        self.unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.unix.bind(self.unix_path)
        os.chmod(self.unix_path, 0o777)
        self.unix.listen(16)
        self.abstract_name = f"evoforge-conformance-{uuid.uuid4().hex}"
        self.abstract = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.abstract.bind("\0" + self.abstract_name)
        self.abstract.listen(16)
        self._threads = [threading.Thread(target=self._serve, args=(s, name), daemon=True)
                         for s, name in ((self.tcp, "tcp"), (self.unix, "unix"),
                                         (self.abstract, "abstract"))]
        self._threads.append(threading.Thread(target=self._serve_udp, daemon=True))
        for t in self._threads:
            t.start()

    def _record(self, name: str, data: bytes) -> None:
        with self._lock:
            self.received.append((name, data))

    def _serve(self, server: socket.socket, name: str) -> None:
        server.settimeout(0.1)
        while not self._stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self._busy += 1
            with conn:
                conn.settimeout(1.0)
                data = b""
                with contextlib.suppress(OSError):
                    while len(data) < 1 << 16:
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                with self._lock:
                    self._busy -= 1
                    self.received.append((name, data))

    def _serve_udp(self) -> None:
        self.udp.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data, _ = self.udp.recvfrom(65536)
            except TimeoutError:
                continue
            except OSError:
                return
            self._record("udp", data)

    def settle(self, max_wait: float = 2.0) -> list[tuple[str, bytes]]:
        """Wait until nothing is pending or being read, then return what arrived so far.

        A sandboxed sender has finished (or been killed) by the time this is called, so
        whatever it sent is already queued in the kernel: only its handling can be late."""
        deadline = time.monotonic() + max_wait
        sockets = [self.tcp, self.udp, self.unix, self.abstract]
        quiet = 0
        while time.monotonic() < deadline and quiet < 3:  # quiet three times, 20 ms apart
            try:
                pending, _, _ = select.select(sockets, [], [], 0)
            except (OSError, ValueError):
                break
            with self._lock:
                busy = self._busy
            quiet = 0 if pending or busy else quiet + 1
            time.sleep(0.02)
        with self._lock:
            return list(self.received)

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        for s in (self.tcp, self.udp, self.unix, self.abstract):
            s.close()
        with contextlib.suppress(OSError):
            os.unlink(self.unix_path)


# -- the suite --------------------------------------------------------------------------------

class SandboxTestCase:
    """Subclass with ``level = "bwrap" | "landlock" | "unshare" | "none"`` (name the subclass
    ``Test...``).

    The fixtures give each test a fresh `make_candidate`, a `listener` and a secret-laden
    parent environment; the autouse `_sandbox_expectation` fixture turns a property that the
    level does not promise into a strict expected failure (``raises=Breach``).
    """

    level: str = ""
    limits = SandboxLimits(memory_mb=512, max_processes=64, file_size_mb=16, open_files=256,
                           max_output_bytes=64_000, max_result_bytes=1_000_000)
    timeout = 20.0

    # -- fixtures ---------------------------------------------------------------------------
    @pytest.fixture(autouse=True)
    def _sandbox_expectation(self, request: pytest.FixtureRequest) -> None:
        level = IsolationLevel.parse(self.level)
        if not probe(level):
            pytest.skip(f"isolation level '{self.level}' is not usable on this machine "
                        f"({level.describe()})")
        name = getattr(request.function, "sandbox_property", None)
        if name is None:
            return
        facts = conditions()
        prop = PROPERTIES[name]
        if not prop.provided(level, facts):
            request.applymarker(pytest.mark.xfail(
                strict=True, raises=Breach,
                reason=f"[{self.level}] {prop.name}: {prop.why_not(level)}"))

    @property
    def isolation(self) -> IsolationLevel:
        return IsolationLevel.parse(self.level)

    @pytest.fixture
    def make_candidate(self) -> Iterator[Callable[..., Candidate]]:
        made: list[Candidate] = []

        def make(code: str, filename: str = "initial.py", parent_dir: Any = None,
                 **limits: Any) -> Candidate:
            merged = {**self.limits.to_json(), **limits}
            cand = Candidate.create(textwrap.dedent(code), filename=filename,
                                    isolation=self.isolation, limits=SandboxLimits(**merged),
                                    parent_dir=parent_dir)
            made.append(cand)
            return cand

        yield make
        for cand in made:
            cand.close()

    @pytest.fixture
    def listener(self, tmp_path: Path) -> Iterator[Listener]:
        folder = tmp_path / "sockets"
        folder.mkdir()
        lst = Listener(folder)
        try:
            yield lst
        finally:
            lst.close()

    @pytest.fixture
    def secret_env(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
        for key, value in SECRET_ENV.items():
            monkeypatch.setenv(key, value)
        return dict(SECRET_ENV)

    @pytest.fixture
    def marker(self) -> Iterator[str]:
        mark = new_marker()
        try:
            yield mark
        finally:
            kill_marked(mark)

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

    # -- limits --------------------------------------------------------------------------
    @provides("output_capped")
    def test_output_is_capped(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os
            def f():
                for _ in range(16):
                    os.write(1, b"o" * (1 << 20))
                    os.write(2, b"e" * (1 << 20))
                return "done"
        """, max_output_bytes=10_000)
        assert cand.call("f", timeout=self.timeout) == "done"
        breach_if(len(cand.last_stdout) > 11_000 or len(cand.last_stderr) > 11_000,
                  f"kept {len(cand.last_stdout)} + {len(cand.last_stderr)} characters")
        assert "bytes truncated" in cand.last_stdout

    @provides("result_capped")
    def test_result_size_is_capped(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("def f():\n    return ['z' * 1000] * 5000\n",
                              max_result_bytes=100_000)
        try:
            value = cand.call("f", timeout=self.timeout)
        except CandidateError as exc:
            assert "larger than the 100000 bytes allowed" in exc.summary
            return
        raise Breach(f"a result of {len(str(value))} characters was accepted")

    @provides("memory_limit")
    def test_memory_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            def f():
                hoard = []
                for _ in range(64):
                    chunk = bytearray(16 << 20)
                    chunk[::4096] = b"\\1" * len(chunk[::4096])
                    hoard.append(chunk)
                return len(hoard) * 16
        """, memory_mb=256)
        try:
            got = cand.call("f", timeout=self.timeout)
        except CandidateError as exc:
            assert "MemoryError" in exc.summary and "memory limit" in exc.summary, exc.summary
            return
        raise Breach(f"allocated {got} MiB under a 256 MiB limit")

    @provides("tree_memory_limit")
    def test_memory_limit_covers_the_process_tree(
            self, make_candidate: Callable[..., Candidate]) -> None:
        # Each child stays under the per-process limit; together they are over it.
        cand = make_candidate("""
            import subprocess, sys
            HOG = ("import sys, time; b = bytearray(96 << 20); b[::4096] = b'1' * len(b[::4096]); "
                   "print('held', flush=True); time.sleep(20)")
            def f():
                procs = [subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.PIPE)
                         for _ in range(4)]
                held = sum(96 for p in procs if p.stdout.readline().strip() == b"held")
                for p in procs:
                    p.kill()
                return held
        """, memory_mb=256)
        start = time.monotonic()
        try:
            held = cand.call("f", timeout=self.timeout)
        except CandidateError as exc:
            assert "memory limit exceeded" in exc.summary, exc.summary
            assert time.monotonic() - start < self.timeout / 2, "the tree was not killed promptly"
            return
        breach_if(held > 256, f"the candidate's processes held {held} MiB under memory_mb=256")

    @provides("disk_limit")
    def test_disk_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os
            def many(files):
                block = b"d" * (1 << 20)
                for i in range(files):
                    with open(f"many-{i}.bin", "wb") as fh:
                        fh.write(block)
                return files
            def hidden(mib):
                with open("hidden.bin", "wb") as fh:
                    os.unlink("hidden.bin")  # still on disk while open, invisible to a walk
                    for _ in range(mib):
                        fh.write(b"h" * (1 << 20))
                        fh.flush()
                    import time
                    time.sleep(10)
                return mib
        """, disk_mb=8, file_size_mb=64)
        for function, amount in (("many", 4096), ("hidden", 32)):
            try:
                written = cand.call(function, amount, timeout=self.timeout)
            except CandidateError as exc:
                assert "disk limit exceeded" in exc.summary, exc.summary
                assert "disk_mb=8" in exc.summary, exc.summary
                continue
            raise Breach(f"{function}() stored {written} MiB under disk_mb=8")

    @provides("cpu_limit")
    def test_cpu_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("def f():\n    while True:\n        pass\n", cpu_seconds=1)
        try:
            cand.call("f", timeout=10)
        except CandidateTimeout:
            raise Breach("ran 10 s wall clock under a 1 s CPU limit") from None
        except CandidateError as exc:
            assert "CPU time limit" in exc.summary, exc.summary

    @provides("file_size_limit")
    def test_file_size_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os
            def f():
                with open("big.bin", "wb") as fh:
                    for _ in range(8):
                        fh.write(b"x" * (1 << 20))
                return os.path.getsize("big.bin")
        """, file_size_mb=2)
        try:
            size = cand.call("f", timeout=self.timeout)
        except CandidateError as exc:
            assert "File too large" in exc.summary, exc.summary
            return
        raise Breach(f"wrote a {size} byte file under a 2 MiB limit")

    @provides("open_files_limit")
    def test_open_files_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os
            def f():
                held = []
                try:
                    for _ in range(5000):
                        held.append(os.open(os.devnull, os.O_RDONLY))
                except OSError as exc:
                    return len(held), exc.errno
                return len(held), 0
        """, open_files=64)
        opened, errno = cand.call("f", timeout=self.timeout)
        breach_if(errno == 0, f"opened {opened} files under a 64 descriptor limit")
        assert opened < 64 and errno == 24

    @provides("process_limit")
    def test_process_limit(self, make_candidate: Callable[..., Candidate], marker: str) -> None:
        # Bounded on purpose (not a fork bomb): safe even where nothing caps processes.
        cand = make_candidate(f"""
            import subprocess, sys
            def f():
                procs, refused = [], 0
                for _ in range(24):
                    try:
                        procs.append(subprocess.Popen([sys.executable, "-c",
                                     "import time; time.sleep(30)", {marker!r}]))
                    except OSError:
                        refused += 1
                for p in procs:
                    p.kill()
                    p.wait()
                return len(procs), refused
        """, max_processes=8)
        started, refused = cand.call("f", timeout=self.timeout)
        breach_if(started >= 8 or not refused, f"started {started} processes under a cap of 8")

    @provides("rlimits_stick")
    def test_limits_cannot_be_raised(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import resource
            def f():
                raised = []
                for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE"):
                    res = getattr(resource, name)
                    soft, hard = resource.getrlimit(res)
                    try:
                        resource.setrlimit(res, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                        raised.append(name)
                    except (ValueError, OSError):
                        pass
                return raised
        """, cpu_seconds=30)
        raised = cand.call("f", timeout=self.timeout)
        breach_if(raised, f"the candidate raised its own limits: {raised}")

    # -- network ---------------------------------------------------------------------------
    @provides("no_network")
    def test_no_network_to_the_host(self, make_candidate: Callable[..., Candidate],
                                    listener: Listener) -> None:
        cand = make_candidate(f"""
            import socket
            def f():
                errors = []
                try:
                    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    u.sendto(b"udp-escaped", ("127.0.0.1", {listener.udp_port}))
                except OSError as exc:
                    errors.append(type(exc).__name__)
                try:
                    with socket.create_connection(("127.0.0.1", {listener.port}), timeout=2) as c:
                        c.sendall(b"tcp-escaped")
                except OSError as exc:
                    errors.append(type(exc).__name__)
                return errors
        """)
        errors = cand.call("f", timeout=self.timeout)
        arrived = listener.settle()
        breach_if([a for a in arrived if a[0] in ("tcp", "udp")],
                  f"reached the host's listener: {arrived} (candidate saw errors {errors})")

    @provides("no_host_unix_sockets")
    def test_no_path_unix_sockets(self, make_candidate: Callable[..., Candidate],
                                  listener: Listener) -> None:
        cand = make_candidate(f"""
            import socket
            def f():
                s = None
                try:  # landlock: seccomp refuses socket(AF_UNIX) itself
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect({listener.unix_path!r})
                    s.sendall(b"unix-escaped")
                    return "connected"
                except OSError as exc:
                    return type(exc).__name__
                finally:
                    if s is not None:
                        s.close()
        """)
        seen = cand.call("f", timeout=self.timeout)
        arrived = [a for a in listener.settle() if a[0] == "unix"]
        breach_if(arrived or seen == "connected", f"reached a host unix socket: {arrived}")

    @provides("no_abstract_sockets")
    def test_no_abstract_unix_sockets(self, make_candidate: Callable[..., Candidate],
                                      listener: Listener) -> None:
        cand = make_candidate(f"""
            import socket
            def f():
                s = None
                try:  # landlock: seccomp refuses socket(AF_UNIX) itself
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect("\\0" + {listener.abstract_name!r})
                    s.sendall(b"abstract-escaped")
                    return "connected"
                except OSError as exc:
                    return type(exc).__name__
                finally:
                    if s is not None:
                        s.close()
        """)
        seen = cand.call("f", timeout=self.timeout)
        arrived = [a for a in listener.settle() if a[0] == "abstract"]
        breach_if(arrived or seen == "connected", f"reached a host abstract socket: {arrived}")

    # -- file system -------------------------------------------------------------------------
    @provides("hides_host_files")
    def test_host_files_are_not_readable(self, make_candidate: Callable[..., Candidate],
                                         tmp_path: Path) -> None:
        secret = tmp_path / "task" / "hidden_tests.txt"
        secret.parent.mkdir()
        secret.write_text("HIDDEN-CONFORMANCE-ANSWER")
        import evoforge
        cand = make_candidate("""
            def f(paths):
                seen = {}
                for p in paths:
                    try:
                        with open(p, "rb") as fh:
                            seen[p] = fh.read(200).decode(errors="replace")
                    except OSError as exc:
                        seen[p] = type(exc).__name__
                return seen
        """)
        paths = [str(secret), evoforge.__file__]
        seen = cand.call("f", paths, timeout=self.timeout)
        readable = [p for p in paths if not seen[p].endswith("Error")]
        breach_if(readable, f"host files readable from the sandbox: {readable}")

    @provides("host_read_only")
    def test_writes_outside_the_work_dir_do_not_reach_the_host(
            self, make_candidate: Callable[..., Candidate], tmp_path: Path) -> None:
        canary = tmp_path / "host-folder"
        canary.mkdir()
        host_tmp = Path(tempfile.gettempdir()) / f"evoforge-conformance-{uuid.uuid4().hex}"
        cand = make_candidate("""
            import os
            def f(paths):
                done = []
                for p in paths:
                    try:
                        with open(p, "w") as fh:
                            fh.write("escaped")
                        done.append(p)
                    except OSError:
                        pass
                try:
                    with open(os.path.join("..", "runtime", "planted.txt"), "w") as fh:
                        fh.write("escaped")
                except OSError:
                    pass
                return done
        """)
        try:
            cand.call("f", [str(canary / "planted.txt"), str(host_tmp)], timeout=self.timeout)
            appeared = [str(p) for p in (canary / "planted.txt", host_tmp,
                                         cand.runtime_dir / "planted.txt") if p.exists()]
        finally:
            with contextlib.suppress(OSError):
                host_tmp.unlink()
        breach_if(appeared, f"files written outside the work dir appeared on the host: {appeared}")

    @provides("isolates_candidates")
    def test_cannot_touch_another_candidates_folder(
            self, make_candidate: Callable[..., Candidate]) -> None:
        victim = make_candidate("def f():\n    return 'victim'\n")
        before = tree_digest(victim.root)
        attacker = make_candidate("""
            import os
            def f(folder, program):
                done = []
                for target, text in ((program, "def f():\\n    return 'owned'\\n"),
                                     (os.path.join(folder, "planted.txt"), "x")):
                    try:
                        with open(target, "w") as fh:
                            fh.write(text)
                        done.append(target)
                    except OSError:
                        pass
                return done
        """)
        attacker.call("f", str(victim.work_dir), str(victim.path), timeout=self.timeout)
        changed = tree_digest(victim.root) != before
        breach_if(changed or victim.call("f", timeout=self.timeout) != "victim",
                  "the attacker changed another candidate's folder")

    @provides("hides_processes")
    def test_other_processes_are_invisible(self, make_candidate: Callable[..., Candidate],
                                           marker: str) -> None:
        # A host process started with secrets in its environment, like the engine and the
        # evaluator host (which inherit the user's API keys).
        host = subprocess.Popen([PY, "-c", "import time; time.sleep(60)", marker],
                                env={**os.environ, **SECRET_ENV})
        try:
            cand = make_candidate("""
                import os
                def f(host_pid):
                    found = {}
                    pids = {host_pid, os.getppid()}
                    pids.update(int(p) for p in os.listdir("/proc") if p.isdigit())
                    for pid in sorted(pids):
                        try:
                            with open(f"/proc/{pid}/environ", "rb") as fh:
                                found[str(pid)] = fh.read().decode(errors="replace")
                        except OSError:
                            pass
                    return found
            """)
            found = cand.call("f", host.pid, timeout=self.timeout)
        finally:
            host.kill()
            host.wait()
        leaked = [pid for pid, env in found.items()
                  if any(v in env for v in SECRET_ENV.values())]
        breach_if(leaked, f"the environment of host processes {leaked} is readable")

    @provides("host_memory_private")
    def test_evaluator_memory_is_out_of_reach(self, make_candidate: Callable[..., Candidate],
                                              marker: str) -> None:
        # A trusted process holding a secret in memory, like the evaluator host does.
        host = subprocess.Popen(
            [PY, "-c", "import ctypes, sys, time\n"
             "s = ctypes.create_string_buffer(b'HOST-MEMORY-CONFORMANCE')\n"
             "print(ctypes.addressof(s), flush=True)\ntime.sleep(60)", marker],
            stdout=subprocess.PIPE, text=True)
        try:
            assert host.stdout is not None
            addr = int(host.stdout.readline())
            cand = make_candidate("""
                import ctypes, os
                class iovec(ctypes.Structure):
                    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
                def f(pid, addr):
                    libc = ctypes.CDLL(None, use_errno=True)
                    got = {}
                    try:
                        with open(f"/proc/{pid}/mem", "rb") as fh:
                            fh.seek(addr)
                            got["mem"] = fh.read(23).decode(errors="replace")
                    except (OSError, ValueError) as exc:
                        got["mem"] = type(exc).__name__
                    buf = ctypes.create_string_buffer(23)
                    local, remote = iovec(ctypes.addressof(buf), 23), iovec(addr, 23)
                    libc.process_vm_readv.restype = ctypes.c_ssize_t
                    n = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote),
                                              1, 0)
                    got["vm_readv"] = buf.raw.decode(errors="replace") if n > 0 else "refused"
                    got["ptrace"] = "attached" if libc.ptrace(16, pid, 0, 0) == 0 else "refused"
                    return got
            """)
            got = cand.call("f", host.pid, addr, timeout=self.timeout)
        finally:
            host.kill()
            host.wait()
        leaked = {k: v for k, v in got.items() if "HOST-MEMORY" in v or v == "attached"}
        breach_if(leaked, f"the candidate reached a host process's memory: {leaked}")

    @provides("seccomp_filter")
    def test_escape_system_calls_are_refused(
            self, make_candidate: Callable[..., Candidate]) -> None:
        from evoforge.sandbox import seccomp

        if not seccomp.supported():
            raise Breach("no seccomp filter for this architecture")
        cand = make_candidate("""
            import ctypes
            def f(keyctl, io_uring_setup):
                libc = ctypes.CDLL(None, use_errno=True)
                libc.syscall.restype = ctypes.c_long
                seen = {}
                rc = libc.ptrace(0, 0, 0, 0)   # PTRACE_TRACEME
                seen["ptrace"] = ctypes.get_errno() if rc == -1 else 0
                for name, nr, args in (("keyctl", keyctl, (0, -3, 0)),
                                       ("io_uring_setup", io_uring_setup, (1, 0))):
                    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
                    seen[name] = ctypes.get_errno() if rc == -1 else 0
                return seen
        """)
        seen = cand.call("f", seccomp.syscall_number("keyctl"),
                         seccomp.syscall_number("io_uring_setup"), timeout=self.timeout)
        allowed = {k: v for k, v in seen.items() if v != 1}   # 1 = EPERM
        breach_if(allowed, f"system calls not refused with EPERM: {allowed}")

    @provides("drops_capabilities")
    def test_no_capabilities(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            def f():
                for line in open("/proc/self/status"):
                    if line.startswith("CapEff:"):
                        return int(line.split()[1], 16)
        """)
        caps = cand.call("f", timeout=self.timeout)
        breach_if(caps != 0, f"the candidate holds capabilities {caps:#x}")


def _write_task(root: Path, evaluate: str, **files: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "evaluate.py").write_text(textwrap.dedent(evaluate))
    for name, text in files.items():
        (root / name).write_text(text)
    return root


__all__ = [
    "PROPERTIES",
    "Breach",
    "Listener",
    "Property",
    "Result",
    "SandboxTestCase",
    "available_levels",
    "breach_if",
    "conditions",
    "expectation_table",
    "kill_marked",
    "new_marker",
    "processes_with",
    "provides",
    "tree_digest",
    "wait_gone",
]
