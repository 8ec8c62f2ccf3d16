"""Spawn one process, feed it, capture it, time it from outside, and kill all of it.

Why not `subprocess.run(timeout=...)`: it kills only the direct child, and `communicate()`
waits for EOF on stdout/stderr, which never comes when a grandchild inherited the pipes (a
candidate that forks a sleeper would hang the evaluator forever). Here:
- the child starts its own session (process group); on timeout or after it exits, the whole
  group gets SIGKILL, and the cgroup (when available) kills even processes that left it;
- the end of the process is detected with a pidfd, not by EOF on its pipes;
- output beyond `max_output` is counted and dropped (head and tail are kept);
- an optional extra pipe carries the structured answer, separate from stdout;
- an optional watchdog (`_watchdog.TreeWatchdog`: disk used, memory-cgroup OOM kills) is
  checked every few tens of milliseconds and once after the end; when it objects, the whole
  tree is killed and `limit_exceeded` says why;
- `cpu_seconds` is the CPU time of the tree: from the cgroup (v2 ``cpu.stat``) when there is
  one, else the larger of wait4 (what the child reaped; bwrap does not reap its pid-namespace
  init, so that is nearly nothing under bwrap) and the watchdog's samples of the tree in /proc
  (every check interval and once when the child exits, so a tree that is never reaped by us can
  be short by at most one interval). It is what `CallCost.cpu_s` reports, what CPU budgets are
  checked against, and it tells a kill by the hard CPU limit from other SIGKILLs.
- `peak_memory_bytes` is the tree's peak memory from the memory cgroup when there is one, else
  the larger of wait4's ``ru_maxrss`` (the largest reaped process) and the watchdog's samples
  of the tree's resident memory; None when nothing could tell.
"""
from __future__ import annotations

import errno
import os
import selectors
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from evoforge.sandbox._cgroup import Cgroup
from evoforge.sandbox._watchdog import TreeWatchdog

RESULT_FD_PLACEHOLDER = "{result_fd}"


class Capture:
    """Keeps the first and last part of a stream, counting what was dropped."""

    def __init__(self, limit: int) -> None:
        self.head_limit = max(0, limit - limit // 4)
        self.tail_limit = limit // 4
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk and self.tail_limit:
            self.tail += chunk
            if len(self.tail) > self.tail_limit:
                del self.tail[: len(self.tail) - self.tail_limit]

    @property
    def truncated(self) -> bool:
        return self.total > len(self.head) + len(self.tail)

    def value(self) -> bytes:
        if not self.truncated:
            return bytes(self.head + self.tail)
        dropped = self.total - len(self.head) - len(self.tail)
        return bytes(self.head) + f"\n[... {dropped} bytes truncated ...]\n".encode() + bytes(
            self.tail)


@dataclass
class ProcessOutcome:
    returncode: int
    stdout: bytes
    stderr: bytes
    seconds: float
    timed_out: bool
    result: bytes | None = None
    result_too_large: bool = False
    output_truncated: bool = False
    notes: list[str] = field(default_factory=list)
    limit_exceeded: str | None = None   # set when the watchdog killed the tree (or objected)
    cpu_seconds: float | None = None    # user + system time of the tree (see the module docstring)
    peak_memory_bytes: int | None = None  # peak memory of the tree (see the module docstring)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill(pgid: int, kill_tree: Callable[[], None] | None) -> None:
    """The group of a process we started; a warm call's pid namespace through its pidfd
    (we are not its parent, so its pid could be reused: never signal it by number)."""
    if kill_tree is not None:
        kill_tree()
    else:
        kill_group(pgid)


def _reap(proc: subprocess.Popen[bytes]) -> float | None:
    """Wait for `proc` with wait4; return its CPU seconds (children it reaped included)."""
    return reap_usage(proc)[0]


def reap_usage(proc: subprocess.Popen[bytes]) -> tuple[float | None, int | None]:
    """Wait for `proc` with wait4; return its CPU seconds and its peak resident bytes (children
    it reaped included: the peak is that of the largest one)."""
    warm_reap = getattr(proc, "reap_usage", None)
    if warm_reap is not None:
        return warm_reap()
    if proc.returncode is not None:
        return None, None
    while True:
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        except InterruptedError:  # pragma: no cover - PEP 475 retries already
            continue
        except ChildProcessError:  # reaped elsewhere
            proc.wait()
            return None, None
        break
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024  # ru_maxrss is in KiB on Linux


def _exited_without_reaping(pid: int) -> bool:
    try:
        info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
    except ChildProcessError:
        return True
    return info is not None


def run_process(
    argv: Sequence[str],
    *,
    env: dict[str, str],
    cwd: str,
    timeout: float,
    stdin: bytes | None = None,
    max_output: int = 1 << 20,
    result_pipe: bool = False,
    max_result: int = 256 << 20,
    preexec: Callable[[], None] | None = None,
    cgroup: Cgroup | None = None,
    watchdog: TreeWatchdog | None = None,
    starter: Callable[[bool, int | None], Any] | None = None,
    pass_fds: Sequence[int] = (),
) -> ProcessOutcome:
    """Run `argv` to completion or timeout; always leaves no process of it behind (as far as
    the isolation level allows: see `isolation.py`). `watchdog`, when given, is checked while
    it runs and after it ends (see the module docstring). `starter(stdin_piped, result_w)`,
    when given, starts the process instead of Popen (a warm sandbox: `warm.WarmProcess`, which
    brings its own pidfd, kill and reaping; `argv`, `env`, `cwd` and `preexec` are then the
    starter's business). `pass_fds` are inherited by the child besides the result pipe."""
    if watchdog is not None and not watchdog.active:
        watchdog = None
    # No stdin is an empty pipe, never a /dev/null opened here: that descriptor would be on the
    # host's /dev, where a candidate that owns the node (run by root) could fchmod it.
    stdin = b"" if stdin is None else stdin
    result_r = result_w = -1
    pass_fds = tuple(pass_fds)
    argv = list(argv)
    if result_pipe:
        result_r, result_w = os.pipe()
        pass_fds += (result_w,)
        argv = [a.replace(RESULT_FD_PLACEHOLDER, str(result_w)) for a in argv]
    start = time.monotonic()
    try:
        if starter is not None:
            proc = starter(stdin is not None, result_w if result_pipe else None)
        else:
            proc = subprocess.Popen(
                argv, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=cwd,
                start_new_session=True, preexec_fn=preexec, pass_fds=pass_fds, close_fds=True,
            )
    except BaseException:
        if result_pipe:
            os.close(result_r)
        raise
    finally:
        if result_pipe:
            os.close(result_w)  # only the child writes to it
    pgid = proc.pid
    if watchdog is not None:
        watchdog.root_pid = proc.pid
    captures = {"stdout": Capture(max_output), "stderr": Capture(max_output)}
    result = bytearray()
    result_too_large = False
    timed_out = False
    sel = selectors.DefaultSelector()
    assert proc.stdout is not None and proc.stderr is not None
    readers: dict[int, str] = {proc.stdout.fileno(): "stdout", proc.stderr.fileno(): "stderr"}
    if result_pipe:
        readers[result_r] = "result"
    for fd, name in readers.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, name)
    pending = memoryview(stdin or b"")
    if proc.stdin is not None:
        os.set_blocking(proc.stdin.fileno(), False)
        if pending:
            sel.register(proc.stdin.fileno(), selectors.EVENT_WRITE, "stdin")
        else:
            proc.stdin.close()
    pidfd = -1
    kill_tree = getattr(proc, "kill_tree", None)
    try:
        pidfd = os.dup(proc.pidfd) if kill_tree is not None else os.pidfd_open(proc.pid)
        sel.register(pidfd, selectors.EVENT_READ, "exit")
    except (AttributeError, OSError):  # pragma: no cover - kernels before 5.3
        pidfd = -1

    def read(fd: int, name: str, budget: int | None = None) -> bool:
        """Read what is available (at most `budget` bytes); False on EOF."""
        nonlocal result_too_large
        while budget is None or budget > 0:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            if budget is not None and name != "result":
                budget -= len(chunk)
            if name == "result":
                if len(result) + len(chunk) > max_result:
                    result_too_large = True
                    return False
                result.extend(chunk)
            else:
                captures[name].add(chunk)
        return True

    exited = False
    limit_exceeded: str | None = None
    next_check = start + (watchdog.next_interval() if watchdog is not None else 0.0)
    try:
        while not exited:
            now = time.monotonic()
            remaining = timeout - (now - start)
            if remaining <= 0:
                timed_out = True
                break
            if watchdog is not None and now >= next_check:
                limit_exceeded = watchdog.check()
                if limit_exceeded:
                    break
                now = time.monotonic()
                next_check = now + watchdog.next_interval()
            wait = remaining if pidfd >= 0 else min(remaining, 0.01)
            if watchdog is not None:
                wait = min(wait, max(0.0, next_check - now))
            for key, _ in sel.select(wait):
                name = key.data
                if name == "exit":
                    exited = True
                elif name == "stdin":
                    assert proc.stdin is not None
                    try:
                        written = os.write(key.fd, pending[:1 << 16])
                        pending = pending[written:]
                    except BlockingIOError:
                        continue
                    except OSError:  # the child stopped reading: fine
                        pending = pending[:0]
                    if not pending:
                        sel.unregister(key.fd)
                        proc.stdin.close()
                elif not read(key.fd, name):
                    sel.unregister(key.fd)
                    if name == "result" and result_too_large:
                        exited = True  # stop now; the caller reports the size problem
            if pidfd < 0 and not exited:
                exited = _exited_without_reaping(proc.pid)
        seconds = time.monotonic() - start
        if watchdog is not None:
            watchdog.sample()  # the tree as it ends, before the kill below
        # Kill the rest of the tree *before* reaping (so the pgid cannot have been reused)
        # and before draining (so no leftover writer can keep the pipes busy forever).
        _kill(pgid, kill_tree)
        if cgroup is not None:
            cgroup.kill()
        # Everything the main process wrote before exiting is already in the pipes.
        for fd, name in readers.items():
            if fd in sel.get_map():
                read(fd, name, budget=4 * max(max_output, 1 << 16))
        if watchdog is not None and not limit_exceeded and not timed_out:
            limit_exceeded = watchdog.check()  # what was written (or killed) since the last check
    finally:
        _kill(pgid, kill_tree)
        sel.close()
        for fd in (pidfd, result_r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        for stream in (proc.stdin, proc.stdout, proc.stderr):
            if stream is not None:
                try:
                    stream.close()
                except OSError as exc:  # pragma: no cover
                    if exc.errno != errno.EPIPE:
                        raise
        cpu_seconds, peak_memory = reap_usage(proc)
    if watchdog is not None:
        cpu_seconds = max(watchdog.cpu_seen, cpu_seconds or 0.0)
        if watchdog.rss_seen:
            peak_memory = max(watchdog.rss_seen, peak_memory or 0)
    if cgroup is not None:
        tree = cgroup.cpu_seconds()
        if tree is not None:
            cpu_seconds = max(tree, cpu_seconds or 0.0)
        tree_peak = cgroup.memory_peak()
        if tree_peak:
            peak_memory = tree_peak
    return ProcessOutcome(
        returncode=proc.returncode,
        stdout=captures["stdout"].value(),
        stderr=captures["stderr"].value(),
        seconds=seconds,
        timed_out=timed_out,
        result=bytes(result) if result_pipe else None,
        result_too_large=result_too_large,
        output_truncated=captures["stdout"].truncated or captures["stderr"].truncated,
        limit_exceeded=limit_exceeded,
        cpu_seconds=cpu_seconds,
        peak_memory_bytes=peak_memory,
    )
