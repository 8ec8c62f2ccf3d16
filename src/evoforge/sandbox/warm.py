"""Warm sandboxes: candidate calls forked from a pre-started zygote instead of started cold.

Why: a cold `candidate.call` under landlock starts unshare, the launcher's interpreter and the
worker's interpreter; most of its ~60-85 ms is interpreter start-up and imports. A zygote
(`_zygote.py`) started once per process, level and configuration inside the level's
namespaces pays that once. Isolation is not weakened: every call still gets a fresh process
(a fork of the zygote, which never ran candidate code) in fresh mount/pid/network/IPC
namespaces, with the call's own rlimits, cgroup, Landlock layer (its own work dir only),
seccomp filter and no capabilities, the same lock-down as the cold launcher
(`lockdown.lock_down` with `isolation.launcher_options`). Each call's pipes and reply socket
are made by the parent for that call alone, so an answer can only come from that call's
process. The call's init process is killed through its pidfd (immune to pid reuse); as pid 1
of the call's pid namespace its death takes every process of the call with it.

Where warm holds: the landlock level with its full namespaces (unshare with a pid namespace),
and bwrap with a user namespace (`warm_bwrap.py`, `bwrap_call.py`: the zygote keeps its
capabilities inside bwrap's namespaces only, so it can mount each call's fresh /proc, tmpfs
and binds, then the call becomes uid 65534 with none). unshare and none stay cold: they have
no per-call layer to confine a call to its own folder. A call whose
memory limit leaves too little room above the zygote's address space (RLIMIT_AS counts the
preloaded numpy) is forked from a lean zygote without numpy. `interact()` runs cold.

Switch: ``evaluator.warm`` (config) or EVOFORGE_SANDBOX_WARM=0|1 (the environment wins, so the
evaluator host, a subprocess, inherits it); `set_enabled` for tests. Zygotes are shut down by
`shutdown_all()` (the evaluator host calls it before exiting; an atexit hook too) and die with
their parent in any case (its exit closes their control socket; a landlock zygote is pid 1 of
its namespace, which the kernel empties when it exits; under bwrap, bwrap's own init is pid 1
and a call already running finishes, but each call's middle process kills its call the moment
the caller's reply socket hangs up, so none outlives the process that asked for it).

What a fork shares with its zygote, by design: the memory layout (addresses, `id()` values are
the same in every call; `random`, numpy and `uuid` are reseeded) and the zygote's initial
environment block in /proc/self/environ (`os.environ` is the call's). No request is ever held
by the zygote: each is received by the call's own middle process (`_zygote._serve_one`).
"""
from __future__ import annotations

import atexit
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from evoforge.sandbox import isolation, warm_bwrap
from evoforge.sandbox._cgroup import Cgroup
from evoforge.sandbox.isolation import IsolationLevel
from evoforge.sandbox.warm_process import (
    REPLY_TIMEOUT_S,
    WarmProcess,
    ZygoteLost,
    pid_of,
)

log = logging.getLogger("evoforge.sandbox")
T = TypeVar("T")
ZYGOTE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_zygote.py")
_ENV = "EVOFORGE_SANDBOX_WARM"
MEMORY_HEADROOM_MIB = 256    # above the zygote's address space, or the call runs cold
MAX_REQUEST_BYTES = 1 << 16  # what the zygote receives at most (_zygote.MAX_REQUEST_BYTES)

_enabled: bool | None = None
_lock = threading.Lock()
_zygotes: dict[tuple[str, ...], Zygote] = {}
_broken: set[tuple[str, ...]] = set()


def enabled() -> bool:
    """Whether warm sandboxes are on: EVOFORGE_SANDBOX_WARM when set, else `set_enabled`'s
    value, else on (the conformance suite and red-team corpus pass warm)."""
    value = os.environ.get(_ENV, "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return True if _enabled is None else _enabled


_USER_ENV = os.environ.get(_ENV)   # what the user set before evoforge wrote it (it wins over the config)


def apply_config(on: bool) -> None:
    """`evaluator.warm` of the run being started, unless the user set EVOFORGE_SANDBOX_WARM."""
    if _USER_ENV is None or not _USER_ENV.strip():
        set_enabled(on)


def set_enabled(on: bool | None) -> None:
    """Turn warm sandboxes on or off in this process (None: back to the default). Exported to
    the environment so evaluator hosts started from here agree."""
    global _enabled
    _enabled = on
    if on is None:
        os.environ.pop(_ENV, None)
    else:
        os.environ[_ENV] = "1" if on else "0"


def supported(level: IsolationLevel) -> bool:
    """Whether `level` can run warm here (see the module docstring)."""
    if not (hasattr(os, "pidfd_open") and hasattr(socket, "send_fds")):
        return False
    if level == IsolationLevel.BWRAP:
        return warm_bwrap.usable()
    if level != IsolationLevel.LANDLOCK or not isolation.probe(level):
        return False
    setup = isolation.landlock_setup()
    return bool(setup and setup.pid_ns and setup.net_ns)


@dataclass
class CallSpec:
    """What one warm call needs besides its descriptors (sent to the zygote as JSON)."""

    work_dir: str
    env: dict[str, str]
    rlimits: list[tuple[int, tuple[int, int]]]
    lockdown: list[str]
    program: str = ""                 # call(): the program the worker imports
    argv: Sequence[str] | None = None  # run(): the command to exec instead
    mounts: dict[str, object] | None = None   # bwrap: the call's view (`warm_bwrap.call_mounts`)

    def header(self, result_fd: bool) -> bytes:
        return json.dumps({
            "work_dir": self.work_dir, "env": self.env, "lockdown": self.lockdown,
            "rlimits": [[res, soft, hard] for res, (soft, hard) in self.rlimits],
            "program": self.program, "argv": list(self.argv) if self.argv else None,
            "result_fd": result_fd, "mounts": self.mounts,
        }).encode()


def call_spec(zygote: Zygote, work_dir: str, runtime_dir: str,
              rlimits: list[tuple[int, tuple[int, int]]], program: str | None,
              argv: Sequence[str]) -> CallSpec | None:
    """One call's spec for `zygote`: the environment and confinement a cold call of its level
    gets. None when the zygote cannot serve the call (bwrap: folders outside its scratch root)."""
    recipe = isolation.recipe_for(zygote.level)
    assert recipe is not None
    mounts: dict[str, object] | None = None
    if zygote.level == IsolationLevel.BWRAP:   # a cold bwrap call's env: /tmp is its own tmpfs
        mounts = warm_bwrap.call_mounts(zygote.root, work_dir, [runtime_dir])
        if mounts is None:
            return None
        env, lockdown = {**isolation.clean_env(work_dir), "PWD": work_dir}, []   # as --chdir
    else:
        env = {**isolation.clean_env(work_dir), "TMPDIR": work_dir}
        lockdown = isolation.launcher_options(recipe, work_dir, [runtime_dir])
    spec = CallSpec(work_dir=work_dir, env=env, rlimits=rlimits, lockdown=lockdown,
                    program=program or "", argv=None if program else list(argv), mounts=mounts)
    # one message to the zygote: a bigger request (a `run()` argv of 64 KiB) starts cold
    # (header(False) is the longer of the two: "false" against "true")
    return spec if len(spec.header(False)) <= MAX_REQUEST_BYTES else None


class Zygote:
    """One zygote process for one (level, recipe): started on first use, restarted when it
    died (a crashed or killed zygote costs the next call one restart, never a wrong answer)."""

    def __init__(self, level: IsolationLevel, numpy: bool = True, root: str = "") -> None:
        self.key = _key(level, numpy, root)
        self.level = level
        self.numpy = numpy   # preload numpy (the lean zygote does not: small memory limits)
        self.root = root     # bwrap: the scratch root its calls' folders are in
        self.vm_bytes = 0
        self._proc: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._lock = threading.Lock()
        self.starts = 0
        self.zygote_pid: int | None = None   # in its own pid namespace (1 under unshare)
        self.borrowed = False   # the control socket was handed down by our parent process

    def _start(self) -> None:
        recipe = isolation.recipe_for(self.level)
        if recipe is None:
            raise ZygoteLost("the isolation level is not available")
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        stdin: Any = subprocess.DEVNULL
        if self.level == IsolationLevel.BWRAP:   # its code comes on stdin (an unlinked file)
            argv = warm_bwrap.zygote_command(self.root)
            stdin = tempfile.TemporaryFile()
            stdin.write(warm_bwrap.zygote_sources())
            stdin.seek(0)
        else:
            argv = list(recipe[3:]) + ["--", sys.executable, "-B", ZYGOTE]
        argv += ([] if self.numpy else ["--no-numpy"]) + [str(theirs.fileno()), "3"]
        try:
            self._proc = subprocess.Popen(
                argv, stdin=stdin, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=isolation.clean_env("/nonexistent"), cwd="/",
                # No parent-death signal: it is per *thread*, and a zygote started by a worker
                # thread must outlive it. The zygote ends when its control socket closes
                # (our process exits or shuts it down); as pid 1 its namespace ends with it.
                pass_fds=(theirs.fileno(),), start_new_session=True)
        finally:
            theirs.close()
            if stdin is not subprocess.DEVNULL:
                stdin.close()
        ours.settimeout(REPLY_TIMEOUT_S)
        try:
            hello = json.loads(ours.recv(4096) or b"{}")
        except (OSError, ValueError):
            hello = {}
        if not hello.get("ready"):
            ours.close()
            self._kill()
            raise ZygoteLost("the zygote did not start")
        ours.settimeout(None)
        self._control = ours
        self.vm_bytes = int(hello.get("vm_kib", 0)) * 1024
        self.zygote_pid = hello.get("pid")
        self.starts += 1

    def adopt(self, control_fd: int, vm_bytes: int) -> None:
        """Use the zygote of the process that started us (the engine's, handed to an
        evaluator host), so an evaluation does not pay a zygote start. Should it die, the
        next call starts a zygote of our own."""
        with self._lock:
            self._close_control()
            self._control = socket.socket(fileno=control_fd)
            self.vm_bytes = vm_bytes
            self.borrowed = True

    def dup_control(self) -> int | None:
        """A duplicate of the control socket's descriptor (the caller closes it), taken under
        the lock: a restart by another thread cannot turn it into some other descriptor."""
        with self._lock:
            return os.dup(self._control.fileno()) if self._control is not None else None

    def ensure(self) -> None:
        with self._lock:
            if self.borrowed and self._control is not None:
                return   # liveness shows when a call is sent (ZygoteLost, then our own)
            self.borrowed = False
            if self._control is None or self._proc is None or self._proc.poll() is not None:
                self._close_control()
                self._kill()
                self._start()

    @property
    def pid(self) -> int | None:
        """The pid (ours) of the process that holds the zygote's namespaces (unshare)."""
        return self._proc.pid if self._proc is not None else None

    def spawn(self, spec: CallSpec, *, stdin_piped: bool, result_w: int | None,
              cgroup: Cgroup | None) -> WarmProcess:
        """Start one call; retried once on a fresh zygote when this one is gone."""
        try:
            return self._spawn_once(spec, stdin_piped, result_w, cgroup)
        except ZygoteLost:
            with self._lock:
                self._close_control()
                self._kill()
                self.borrowed = False
            return self._spawn_once(spec, stdin_piped, result_w, cgroup)

    def _spawn_once(self, spec: CallSpec, stdin_piped: bool, result_w: int | None,
                    cgroup: Cgroup | None) -> WarmProcess:
        self.ensure()
        control = self._control
        assert control is not None
        made: list[int] = []
        theirs: list[int] = []

        def pipe() -> tuple[int, int]:
            r, w = os.pipe()
            made.extend((r, w))
            return r, w

        def empty() -> int:
            """A pipe's read end with its write end closed: EOF to read, EBADF to write. Never
            a /dev/null opened here: it would be the host's node, fchmod-able by its owner."""
            r, w = os.pipe()
            os.close(w)
            made.append(r)
            return r

        in_r, in_w = pipe() if stdin_piped else (empty(), None)
        out_r, out_w = pipe()
        err_r, err_w = pipe()
        go_r, go_w = pipe()
        res = result_w if result_w is not None else empty()
        reply, reply_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        theirs = [in_r, out_w, err_w, res, go_r, reply_theirs.fileno()]
        keep = {fd for fd in (in_w, out_r, err_r, go_w) if fd is not None}
        try:
            try:
                socket.send_fds(control, [spec.header(result_w is not None)], theirs)
            except OSError as exc:
                raise ZygoteLost(f"cannot reach the zygote: {exc}") from None
            finally:
                reply_theirs.close()
                for fd in made:
                    if fd not in keep:
                        os.close(fd)
            reply.settimeout(REPLY_TIMEOUT_S)
            try:
                _, fds, _, _ = socket.recv_fds(reply, 16, 1)
            except OSError:
                fds = []
            if len(fds) != 1:
                for fd in fds:
                    os.close(fd)
                raise ZygoteLost("the zygote did not start the call")
            pidfd = fds[0]
            pid = pid_of(pidfd)
            if cgroup is not None:
                cgroup.add(pid)
            try:
                os.write(go_w, b"g")
            except BrokenPipeError:
                os.set_blocking(err_r, False)
                try:
                    why = os.read(err_r, 4096).decode(errors="replace").strip()
                except OSError:
                    why = ""
                raise ZygoteLost(f"the call's process ended before it started: {why}") from None
        except BaseException:
            reply.close()
            for fd in keep:
                os.close(fd)
            raise
        os.close(go_w)
        return WarmProcess(pid, pidfd, reply, in_w, out_r, err_r)

    def _close_control(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL always ends it
            pass

    def close(self) -> None:
        """Shut down: close the control socket (the zygote exits) and kill what holds it."""
        with self._lock:
            self._close_control()
            self._kill()


def zygote_for(level: IsolationLevel, memory_mb: int | None = None) -> Zygote | None:
    """This process's zygote for `level` and a call limited to `memory_mb` (started on first
    use), or None when warm is off, unsupported at `level`, or the zygote cannot start here
    (then said once, and cold). RLIMIT_AS counts the zygote's address space in every call, so
    a call whose limit leaves less than MEMORY_HEADROOM_MIB above the numpy zygote's gets the
    lean one (no numpy preloaded: about what a cold interpreter maps)."""
    if not enabled() or not supported(level):
        return None
    zygote = _zygote(level, numpy=True)
    if zygote is not None and memory_mb is not None and (int(memory_mb) << 20) < (
            zygote.vm_bytes + (MEMORY_HEADROOM_MIB << 20)):
        zygote = _zygote(level, numpy=False)
    return zygote


def run_warm_or_cold(run: Callable[[Any], T], plan: tuple[Zygote, CallSpec] | None,
                     cgroup: Cgroup | None) -> tuple[T, bool]:
    """`run(starter)` warm from `plan` (a zygote and the call's spec), else cold (`run(None)`);
    and whether it ran warm. A warm call whose sandbox could not be set up (its init said so,
    before any candidate code ran) or whose zygote could not start it runs cold instead, and
    this process's later calls at that zygote's level run cold too (said once): a machine
    where warm does not hold costs speed, never a failed call."""
    if plan is None:
        return run(None), False
    zygote, spec = plan
    started: list[WarmProcess] = []

    def start(stdin_piped: bool, result_w: int | None) -> WarmProcess:
        proc = zygote.spawn(spec, stdin_piped=stdin_piped, result_w=result_w, cgroup=cgroup)
        started.append(proc)
        return proc

    try:
        outcome = run(start)
    except ZygoteLost as exc:
        why = str(exc)
    else:
        why = started[-1].setup_failed if started else ""
        if not why:
            return outcome, True
    with _lock:
        first = zygote.key not in _broken
        _broken.add(zygote.key)
    if first:
        log.warning("sandbox: a warm %s call could not be set up here (%s): calls start cold",
                    zygote.level.name.lower(), why)
    return run(None), False


def _root_for(level: IsolationLevel) -> str:
    """The scratch root a zygote of `level` serves ("" at landlock: it sees every folder)."""
    return (warm_bwrap.scratch_root() or "") if level == IsolationLevel.BWRAP else ""


def _key(level: IsolationLevel, numpy: bool, root: str) -> tuple[str, ...]:
    return (level.name, str(numpy), root, *(isolation.recipe_for(level) or []))


def _zygote(level: IsolationLevel, numpy: bool) -> Zygote | None:
    root = _root_for(level)
    key = _key(level, numpy, root)
    with _lock:
        if key in _broken:
            return None
        zygote = _zygotes.get(key)
        if zygote is None:
            zygote = _zygotes[key] = Zygote(level, numpy, root)
    try:
        zygote.ensure()
    except (ZygoteLost, OSError) as exc:
        with _lock:
            _broken.add(key)
            _zygotes.pop(key, None)
        log.warning("sandbox: warm %s sandboxes unavailable here (%s): calls start cold",
                    level.name.lower(), exc)
        return None
    return zygote


def handoff(level: IsolationLevel) -> list[dict[str, int | bool | str]]:
    """This process's zygotes for `level` (started if needed), for an evaluator host to adopt:
    [{"numpy": bool, "fd": a duplicate of its control descriptor (pass it to the host, then
    close it), "vm_bytes": int}]; [] when warm is off or unavailable."""
    if not enabled() or not supported(level):
        return []
    out: list[dict[str, int | bool | str]] = []
    for numpy in (True, False):
        zygote = _zygote(level, numpy)
        fd = zygote.dup_control() if zygote is not None else None
        if zygote is not None and fd is not None:
            out.append({"numpy": numpy, "fd": fd, "vm_bytes": zygote.vm_bytes,
                        "root": zygote.root})
    return out


def adopt(level: IsolationLevel, entries: list[dict[str, int | bool | str]]) -> None:
    """In an evaluator host: use the zygotes `handoff` gave (their control descriptors were
    inherited), instead of starting our own."""
    if not enabled() or not supported(level):
        for entry in entries:
            os.close(int(entry["fd"]))
        return
    for entry in entries:
        root = str(entry.get("root", ""))
        key = _key(level, bool(entry["numpy"]), root)
        with _lock:
            zygote = _zygotes.get(key) or _zygotes.setdefault(
                key, Zygote(level, bool(entry["numpy"]), root))
        zygote.adopt(int(entry["fd"]), int(entry["vm_bytes"]))


def shutdown_all() -> None:
    """Shut down every zygote of this process (the run's end, the evaluator host's exit)."""
    with _lock:
        zygotes = list(_zygotes.values())
        _zygotes.clear()
    for zygote in zygotes:
        zygote.close()


atexit.register(shutdown_all)
