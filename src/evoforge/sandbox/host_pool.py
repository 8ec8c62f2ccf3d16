"""Warm evaluator hosts: the engine's side of `_host_server` (pre-started, reused, replaced).

Why: a cold evaluation pays a fresh interpreter that imports evoforge and evaluate.py before it
scores anything (~150-250 ms here): for a cheap trusted evaluator (the tune_* tasks of
self-improvement read the candidate's constants and never run it) that is nearly the whole
cost. A warm host imports evaluate.py once; each evaluation is a fresh fork of it (see
`_host_server` for why that keeps evaluations apart), in the evaluation's own cgroup, with
the same pipes, timeout, kill and answer as a cold host (`run_process` with a starter).

A host is reused only while all of this holds, else it is retired (it finishes what it is
running, then exits) and the next evaluation starts a new one:
- it was started the same way: task folder, isolation level and recipe, and the exact
  environment the host would get (the warm-sandbox switch and PYTHONPATH are in it);
- no file changed since it was started: every file of the task folder (size, mtime, ctime,
  inode: an edit that restores mtime still changes ctime) and every module file it imported;
- its last evaluation ended normally (an answer and exit status 0): after a crash, a timeout,
  an answer too large or a fork killed for memory, the host is replaced;
- it has served fewer than `max_evaluations` (``evaluator.host_evaluations``).
A task whose evaluate.py does not import (or starts threads on import) is evaluated cold, with
exactly the cold host's error, while its files stay unchanged.

Switch: ``evaluator.warm_host`` (config; `evaluate_code(warm_host=...)`), or EVOFORGE_WARM_HOST
=0|1, which wins. Hosts are shut down at exit (`shutdown_all`, an atexit hook); one whose
engine was killed exits by itself (its control socket closes; the forks of abandoned
evaluations are killed).
"""
from __future__ import annotations

import atexit
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import OrderedDict
from pathlib import Path
from typing import Any

from evoforge.sandbox import warm
from evoforge.sandbox._cgroup import Cgroup
from evoforge.sandbox.warm_process import REPLY_TIMEOUT_S

_ENV = "EVOFORGE_WARM_HOST"
DEFAULT_MAX_EVALUATIONS = 100
MAX_HOSTS = 4              # hosts kept between evaluations (least recently used retired first)
_SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache"}


class HostUnavailable(OSError):
    """No warm host could take this evaluation before it started (it runs cold instead)."""


def enabled(requested: bool | None = None) -> bool:
    """Whether evaluations use warm hosts: EVOFORGE_WARM_HOST when set, else `requested`
    (``evaluator.warm_host``), else on."""
    value = os.environ.get(_ENV, "").strip().lower()
    if value in ("0", "false", "no", "off"):
        return False
    if value in ("1", "true", "yes", "on"):
        return True
    return True if requested is None else bool(requested)


def files_state(task_dir: Path, modules: tuple[str, ...] = ()) -> str:
    """A digest of what a host depends on: (path, size, mtime, ctime, inode) of every task
    file and of every module file it imported (a missing file counts as a change too)."""
    paths = []
    for dirpath, dirnames, filenames in os.walk(task_dir):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        paths.extend(os.path.join(dirpath, f) for f in sorted(filenames) if not f.endswith(".pyc"))
    h = hashlib.sha256()
    for path in [*paths, *modules]:
        try:
            st = os.stat(path)
        except OSError:
            h.update(f"{path}:gone\n".encode())
            continue
        h.update(f"{path}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}\n".encode())
    return h.hexdigest()


class WarmHost:
    """One `_host_server` process for one task folder and environment."""

    def __init__(self, task_dir: Path, level: Any, recipe: list[str] | None,
                 env: dict[str, str], timeout: float) -> None:
        self.task_dir = task_dir
        self.served = 0
        self.in_flight = 0
        self.retired = False
        self._lock = threading.Lock()
        self.modules: tuple[str, ...] = ()
        before = files_state(task_dir)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        argv = [sys.executable, "-P", "-m", "evoforge.sandbox._host_server", str(theirs.fileno())]
        try:
            # no parent-death signal (it is per thread; the host outlives the thread that
            # started it): it exits when its control socket closes
            self.proc: subprocess.Popen[bytes] | None = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, env=env, cwd=str(task_dir), pass_fds=(theirs.fileno(),),
                start_new_session=True)
        finally:
            theirs.close()
        self._control: socket.socket | None = ours
        try:
            ours.send(json.dumps({"task_dir": str(task_dir), "isolation": level.name,
                                  "recipe": recipe}).encode())
            ours.settimeout(max(1.0, timeout))
            hello = json.loads(ours.recv(1 << 22) or b"{}")
        except (OSError, ValueError):
            hello = {}
        if not hello.get("ready"):
            self.close(kill=True)
            raise HostUnavailable(str(hello.get("reason") or "the warm evaluator host did not start"))
        ours.settimeout(None)
        self.pid = int(hello["pid"])
        self.modules = tuple(str(m) for m in hello.get("modules") or ())
        self.state = files_state(task_dir, self.modules)
        if files_state(task_dir) != before:   # changed while it imported: it may hold either
            self.close(kill=True)
            raise HostUnavailable("the task files changed while the host started")

    def usable(self, max_evaluations: int) -> bool:
        return (not self.retired and self.served < max_evaluations and self.alive()
                and files_state(self.task_dir, self.modules) == self.state)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self, stdin_piped: bool, result_w: int | None, cgroup: Cgroup | None,
              warm_entries: list[dict[str, Any]]) -> warm.WarmProcess:
        """Fork one evaluation (its pidfd comes back, it joins `cgroup`, then it starts).
        Raises HostUnavailable when the host cannot take it; nothing started then."""
        made: list[int] = []

        def pipe() -> tuple[int, int]:
            r, w = os.pipe()
            made.extend((r, w))
            return r, w

        in_r, in_w = pipe() if stdin_piped else (os.open(os.devnull, os.O_RDONLY), None)
        if not stdin_piped:
            made.append(in_r)
        out_r, out_w = pipe()
        err_r, err_w = pipe()
        go_r, go_w = pipe()
        res = result_w if result_w is not None else os.open(os.devnull, os.O_WRONLY)
        if result_w is None:
            made.append(res)
        reply, reply_theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        theirs = [in_r, out_w, err_w, res, go_r, reply_theirs.fileno()]
        theirs += [int(entry["fd"]) for entry in warm_entries]
        keep = {fd for fd in (in_w, out_r, err_r, go_w) if fd is not None}
        header = json.dumps({"warm": [{k: v for k, v in e.items() if k != "fd"}
                                      for e in warm_entries]}).encode()
        sent = False
        try:
            try:
                with self._lock:
                    if self._control is None:
                        raise HostUnavailable("the host was retired")
                    socket.send_fds(self._control, [header], theirs)
                    sent = True
                    self.served += 1
                    self.in_flight += 1
            except OSError as exc:
                raise HostUnavailable(f"cannot reach the warm evaluator host: {exc}") from None
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
                raise HostUnavailable("the warm evaluator host did not fork the evaluation")
            pidfd = fds[0]
            try:
                pid = warm.pid_of(pidfd)
            except warm.ZygoteLost as exc:
                raise HostUnavailable(str(exc)) from None
            if cgroup is not None:
                cgroup.add(pid)
            try:
                os.write(go_w, b"g")
            except BrokenPipeError:
                os.close(pidfd)
                raise HostUnavailable("the evaluation's process ended before it started") from None
        except BaseException:
            reply.close()
            for fd in keep:
                os.close(fd)
            if sent:
                with self._lock:
                    self.in_flight -= 1
            self.close()   # whatever went wrong, this host is not trusted with another one
            raise
        os.close(go_w)
        return warm.WarmProcess(pid, pidfd, reply, in_w, out_r, err_r)

    def finished(self, normal: bool) -> None:
        """An evaluation it forked ended; `normal`: with an answer and exit status 0."""
        with self._lock:
            self.in_flight -= 1
            if not normal:
                self.retired = True
        if not normal:
            self.close()

    def close(self, kill: bool = False) -> None:
        """Retire: accept nothing more; the host exits once its forks have ended (`kill`:
        at once, forks and all)."""
        with self._lock:
            self.retired = True
            if self._control is not None:
                self._control.close()
                self._control = None
        proc = self.proc
        if proc is None:
            return
        if kill:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        _retiring.append(proc)
        self.proc = None
        _reap_retired()


_lock = threading.Lock()
_hosts: OrderedDict[str, WarmHost] = OrderedDict()
_retiring: list[subprocess.Popen[bytes]] = []
_failed: dict[str, str] = {}   # key -> files state under which its host could not start
_starting: dict[str, threading.Lock] = {}   # key -> held while its host is looked up or started


def _reap_retired() -> None:
    for proc in list(_retiring):
        if proc.poll() is not None:
            try:
                _retiring.remove(proc)
            except ValueError:
                pass


def key_for(task_dir: Path, level: Any, recipe: list[str] | None, env: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps([str(task_dir), level.name, recipe, sorted(env.items())])
                          .encode()).hexdigest()


def host_for(task_dir: Path, level: Any, recipe: list[str] | None, env: dict[str, str], *,
             max_evaluations: int, timeout: float) -> WarmHost | None:
    """A usable warm host for this task and environment (started if needed), or None: the
    evaluation runs cold (the host's evaluate.py does not import, or it cannot start here)."""
    key = key_for(task_dir, level, recipe, env)
    with _lock:
        starting = _starting.setdefault(key, threading.Lock())
    with starting:   # evaluations arriving together wait for one start, then share its host
        return _host_for(key, task_dir, level, recipe, env, max_evaluations, timeout)


def _host_for(key: str, task_dir: Path, level: Any, recipe: list[str] | None,
              env: dict[str, str], max_evaluations: int, timeout: float) -> WarmHost | None:
    with _lock:
        _reap_retired()
        host = _hosts.get(key)
        if host is not None and host.usable(max_evaluations):
            _hosts.move_to_end(key)
            return host
        if host is not None:
            del _hosts[key]
        if _failed.get(key) == files_state(task_dir):
            return None
    if host is not None:
        host.close()
    try:
        host = WarmHost(task_dir, level, recipe, env, timeout)
    except (HostUnavailable, OSError):
        with _lock:
            _failed[key] = files_state(task_dir)
        return None
    evicted = []
    with _lock:
        _failed.pop(key, None)
        _hosts[key] = host
        while len(_hosts) > MAX_HOSTS:
            evicted.append(_hosts.popitem(last=False)[1])
    for old in evicted:
        old.close()
    return host


def hosts() -> list[WarmHost]:
    """The hosts kept for reuse now (tests, benchmarks)."""
    with _lock:
        return list(_hosts.values())


def shutdown_all() -> None:
    """Retire every host and wait (briefly) for them to exit; kill what is left."""
    with _lock:
        kept = list(_hosts.values())
        _hosts.clear()
        _failed.clear()
    for host in kept:
        host.close()
    deadline = time.monotonic() + 2.0
    for proc in list(_retiring):
        try:
            proc.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
    _retiring.clear()


atexit.register(shutdown_all)
