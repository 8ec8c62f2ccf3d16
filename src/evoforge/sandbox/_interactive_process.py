"""The process side of an interactive session: one sandboxed tree, a conversation in lines.

Why not `_process.run_process`: that feeds stdin once and collects output at the end, while an
interactive candidate waits for each answer. This runner reuses the same pieces (isolation
wrapper, rlimits, cgroup, disk/memory watchdog, clean environment, head-and-tail capture) with a
loop that reads lines from the candidate, hands each to a *channel* (which answers it, ends the
session with `SessionEnd`, or raises the session's verdict) and writes the answers back without
ever blocking: every read and write waits at most until the session's deadline, and the whole
tree is killed however it ends.
"""
from __future__ import annotations

import dataclasses
import os
import selectors
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from evoforge.sandbox._cgroup import Cgroup
from evoforge.sandbox._process import Capture, kill_group, reap_usage
from evoforge.sandbox._watchdog import TreeWatchdog
from evoforge.sandbox.isolation import clean_env, wrap_command
from evoforge.sandbox.limits import make_preexec, rlimits_for

if TYPE_CHECKING:
    from evoforge.sandbox.candidate import Candidate


class SessionEnd(Exception):
    """Raised by a channel when the candidate ended the session properly."""


class Channel(Protocol):
    def limit(self, pending: bytes, max_result: int) -> int:
        """The longest line allowed, given its first bytes."""

    def on_line(self, line: bytes) -> bytes:
        """The answer to one line from the candidate (b"" for none); raises to stop."""

    def refusal(self, exc: BaseException) -> bytes | None:
        """What to tell the candidate before killing it for `exc` (None: nothing)."""


@dataclass
class Outcome:
    returncode: int
    seconds: float
    timed_out: bool
    finished: bool
    limit_exceeded: str | None
    cpu_seconds: float | None
    peak_memory_bytes: int | None
    stdout: str
    stderr: str
    stop: BaseException | None = None  # the channel's verdict (or a bug of the oracle)


def converse(cand: "Candidate", argv: Sequence[str], channel: Channel, *, timeout: float,
              first: bytes, python: bool, cpu_budget_s: float | None = None) -> Outcome:
    """Run `argv` in the sandbox and hold the conversation until it ends, fails or times out
    (`Outcome.stop` holds what a channel raised, to be raised by the caller after accounting).

    Python mode: the worker talks on two extra pipes (its stdout/stderr are captured as in
    `call`). Program mode: the program's stdout carries its lines, its stdin our answers.
    `cpu_budget_s` (already resolved against the evaluation's budget by the caller) kills the
    tree when its CPU goes over, as in `Candidate._spawn`.
    """
    if not timeout or timeout <= 0:
        raise ValueError(f"timeout must be positive, got {timeout!r}")
    limits = cand.limits
    if cpu_budget_s is not None:
        # A per-process backstop in whole seconds; the watchdog stops the tree at the budget.
        base = limits.cpu_seconds if limits.cpu_seconds is not None else timeout + 1.0
        if cpu_budget_s + 1.0 < base:
            limits = dataclasses.replace(limits, cpu_seconds=cpu_budget_s + 1.0)
    cgroup = (Cgroup.create(limits.max_processes, limits.memory_mb) if limits.use_cgroups
              else None)
    up_r = up_w = down_r = down_w = -1
    proc = None
    try:
        rlimits = rlimits_for(limits, timeout,
                              pids_by_cgroup=cgroup is not None and cgroup.limits_pids)
        preexec = make_preexec(rlimits, cgroup_procs=cgroup.procs_files if cgroup else None)
        argv = list(argv)
        pass_fds: tuple[int, ...] = ()
        if python:
            up_r, up_w = os.pipe()
            down_r, down_w = os.pipe()
            pass_fds = (up_w, down_r)
            argv = [a.replace("{up_fd}", str(up_w)).replace("{down_fd}", str(down_r))
                    for a in argv]
        wrapped = wrap_command(cand.isolation, argv, work_dir=str(cand.work_dir),
                               ro_dirs=[str(cand.runtime_dir)])
        watchdog: TreeWatchdog | None = TreeWatchdog(
            cgroup=cgroup, disk_dirs=[str(cand.work_dir)], disk_mb=limits.disk_mb,
            memory_mb=limits.memory_mb, cpu_budget_s=cpu_budget_s)
        if watchdog is not None and not watchdog.active:
            watchdog = None
        start = time.monotonic()
        try:
            # always a pipe (closed at once for a Python session, which talks on its own
            # pipes): a /dev/null opened here would be the host's node, fchmod-able by its owner
            proc = subprocess.Popen(
                wrapped, stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=clean_env(str(cand.work_dir)), cwd=str(cand.work_dir),
                start_new_session=True, preexec_fn=preexec, pass_fds=pass_fds, close_fds=True)
        finally:
            for fd in (up_w, down_r):  # the child's ends
                if fd >= 0:
                    os.close(fd)
        assert proc.stdout is not None and proc.stderr is not None
        if watchdog is not None:
            watchdog.root_pid = proc.pid
        if python:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.stdin = None   # the loop never writes it
        else:
            assert proc.stdin is not None
            up_r, down_w = proc.stdout.fileno(), proc.stdin.fileno()
        return _loop(cand, proc, channel, up_r=up_r, down_w=down_w, timeout=timeout,
                     first=first, python=python, start=start, cgroup=cgroup, watchdog=watchdog,
                     limits=limits)
    finally:
        if proc is not None:
            kill_group(proc.pid)
            if cgroup is not None:
                cgroup.kill()
            reap_usage(proc)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass
        if python:
            for fd in (up_r, down_w):
                if fd >= 0:
                    os.close(fd)
        if cgroup is not None:
            cgroup.remove()


def _loop(cand: "Candidate", proc: subprocess.Popen[bytes], channel: Channel, *, up_r: int,
          down_w: int, timeout: float, first: bytes, python: bool, start: float,
          cgroup: Cgroup | None, watchdog: TreeWatchdog | None, limits: Any) -> Outcome:
    assert proc.stdout is not None and proc.stderr is not None
    captures = {"stdout": Capture(limits.max_output_bytes),
                "stderr": Capture(limits.max_output_bytes)}
    sel = selectors.DefaultSelector()
    readers = {up_r: "up", proc.stderr.fileno(): "stderr"}
    if python:
        readers[proc.stdout.fileno()] = "stdout"
    for fd, name in readers.items():
        os.set_blocking(fd, False)
        sel.register(fd, selectors.EVENT_READ, name)
    os.set_blocking(down_w, False)
    pidfd = os.pidfd_open(proc.pid)
    sel.register(pidfd, selectors.EVENT_READ, "exit")
    pending = bytearray(first)
    writing = False
    buffer = bytearray()
    exited = timed_out = finished = False
    limit_exceeded: str | None = None
    stop: BaseException | None = None
    next_check = start + (watchdog.next_interval() if watchdog is not None else 0.0)

    def flush() -> None:
        nonlocal writing
        while pending:
            try:
                written = os.write(down_w, pending[:1 << 16])
            except BlockingIOError:
                break
            except OSError:  # the candidate closed its end: its loss
                pending.clear()
                break
            del pending[:written]
        want = bool(pending)
        if want != writing:
            if want:
                sel.register(down_w, selectors.EVENT_WRITE, "down")
            else:
                sel.unregister(down_w)
            writing = want

    def take(chunk: bytes) -> None:
        """Feed bytes from the candidate; raises to stop the session."""
        if not python:
            captures["stdout"].add(chunk)
        buffer.extend(chunk)
        while True:
            newline = buffer.find(b"\n")
            if newline < 0:
                if len(buffer) > channel.limit(bytes(buffer[:16]), limits.max_result_bytes):
                    channel.on_line(bytes(buffer))  # reports the over-long line
                return
            line = bytes(buffer[:newline])
            del buffer[:newline + 1]
            answer = channel.on_line(line)
            if answer:
                pending.extend(answer)
                flush()

    def drain(fd: int, name: str, budget: int | None = None) -> bool:
        while budget is None or budget > 0:
            try:
                chunk = os.read(fd, 1 << 16)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not chunk:
                return False
            if budget is not None:
                budget -= len(chunk)
            if name == "up":
                take(chunk)
            else:
                captures[name].add(chunk)
        return True

    try:
        flush()
        while not exited:
            now = time.monotonic()
            remaining = timeout - (now - start)
            if remaining <= 0:
                timed_out = True
                break
            if watchdog is not None:
                if now >= next_check:
                    limit_exceeded = watchdog.check()
                    if limit_exceeded:
                        break
                    next_check = time.monotonic() + watchdog.next_interval()
                remaining = min(remaining, max(0.0, next_check - time.monotonic()))
            for key, _ in sel.select(remaining):
                if key.data == "exit":
                    exited = True
                elif key.data == "down":
                    flush()
                elif not drain(key.fd, key.data):
                    sel.unregister(key.fd)
        if exited:  # what the candidate wrote just before it ended is still in the pipes
            for fd, name in readers.items():
                if fd in sel.get_map():
                    drain(fd, name, budget=4 * max(limits.max_output_bytes, 1 << 16))
            if buffer and not python:
                take(b"\n")  # a last line without a newline
        if watchdog is not None and not limit_exceeded and not timed_out:
            limit_exceeded = watchdog.check()
    except SessionEnd:
        finished = True
    except BaseException as exc:  # the session's verdict (or a bug of the oracle)
        stop = exc
        refusal = channel.refusal(exc)
        if refusal:
            pending.extend(refusal)
            try:
                flush()
            except OSError:
                pass
    seconds = time.monotonic() - start
    if watchdog is not None:
        watchdog.sample()  # the tree as it ends, before the kill below
    kill_group(proc.pid)
    if cgroup is not None:
        cgroup.kill()
    for fd, name in readers.items():
        if name != "up" and fd in sel.get_map():
            drain(fd, name, budget=4 * max(limits.max_output_bytes, 1 << 16))
    sel.close()
    os.close(pidfd)
    cpu, peak = reap_usage(proc)
    if watchdog is not None:
        cpu = max(watchdog.cpu_seen, cpu or 0.0)
        if watchdog.rss_seen:
            peak = max(watchdog.rss_seen, peak or 0)
    if cgroup is not None:
        tree = cgroup.cpu_seconds()
        if tree is not None:
            cpu = max(tree, cpu or 0.0)
        peak = cgroup.memory_peak() or peak
    outcome = Outcome(returncode=proc.returncode, seconds=seconds, timed_out=timed_out,
                       finished=finished, limit_exceeded=limit_exceeded, cpu_seconds=cpu,
                       peak_memory_bytes=peak,
                       stdout=captures["stdout"].value().decode("utf-8", errors="replace"),
                       stderr=captures["stderr"].value().decode("utf-8", errors="replace"))
    outcome.stop = stop
    return outcome
