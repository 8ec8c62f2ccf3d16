"""A warm evaluator host: ``python -P -m evoforge.sandbox._host_server CONTROL_FD``.

Why: a cold evaluation starts a fresh interpreter that imports evoforge and the task's
evaluate.py (~150-250 ms here) before it scores anything; a task whose evaluator is cheap pays
that on every evaluation. This process (the *template*) imports evaluate.py once and then only
forks: every evaluation runs in a fresh fork of it, so nothing one evaluation does (module
globals the evaluator changed, caches filled with a candidate's answers, memory it leaked, a
crash, a hang) reaches the next one, which starts again from the state right after the import.
The template itself never calls evaluate(), never runs candidate code and never reads what an
evaluation produced: a fork writes its answer straight to the engine's pipe, so the only input
the template ever parses is the engine's own JSON header (`host_pool.py` is the engine's side).

Protocol (one AF_UNIX SOCK_SEQPACKET control socket): the engine's first message is
``{"task_dir", "isolation", "recipe"}``; the template answers ``{"ready": true, "pid",
"modules"}`` (the files of the modules it loaded, which the engine watches for changes) or
``{"ready": false, "reason"}``. Then per evaluation: a header ``{"warm": [{"numpy",
"vm_bytes", "root"}, ...]}`` with descriptors stdin, stdout, stderr, result, go, reply and one control
descriptor per warm zygote entry (`warm.handoff`). The template forks; the fork joins no
cgroup itself: it waits for the "go" byte while the engine, which got its pidfd on the reply
socket, moves it into the evaluation's cgroup; then it moves its pipes to 0-3 (the zygote
descriptors after them), closes every other descriptor and runs exactly what a cold host runs
(`_host_worker.answer_and_exit`). When a fork ends the template sends its wait status and
rusage on its reply socket; when the engine hangs up a reply socket before the fork ended (the
engine was killed), the fork is killed. When the control socket closes the template accepts no
more work, waits for its forks and exits.

Not forked: an evaluate.py that starts threads when imported (a fork would have none of them);
the template says so and the engine evaluates that task cold.
"""
from __future__ import annotations

import ctypes
import fcntl
import gc
import json
import os
import select
import signal
import socket
import sys
import threading
from typing import Any

from evoforge.sandbox import _host_worker
from evoforge.sandbox.isolation import IsolationLevel, set_recipe

_PR_SET_PDEATHSIG = 1
_EXIT_SETUP_FAILED = 125
_N_FIXED = 6   # stdin, stdout, stderr, result, go, reply
_libc = ctypes.CDLL(None)


def _modules() -> list[str]:
    files = set()
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if isinstance(path, str) and os.path.isfile(path):
            files.add(os.path.abspath(path))
    return sorted(files)


class Template:
    """The template's state: evaluate.py imported, and the forks still running."""

    def __init__(self, control: socket.socket, imported: tuple[Any, str | None]) -> None:
        self.control: socket.socket | None = control
        self.imported = imported
        # pidfd -> (pid, reply socket; None once the engine hung up on it)
        self.forks: dict[int, tuple[int, socket.socket | None]] = {}

    def serve(self) -> None:
        while self.control is not None or self.forks:
            poller = select.poll()
            if self.control is not None:
                poller.register(self.control.fileno(), select.POLLIN)
            replies = {}
            for pidfd, (_, reply) in self.forks.items():
                poller.register(pidfd, select.POLLIN)
                if reply is not None:
                    poller.register(reply.fileno(), select.POLLIN | select.POLLHUP)
                    replies[reply.fileno()] = pidfd
            for fd, _ in poller.poll():
                if self.control is not None and fd == self.control.fileno():
                    self._request()
                elif fd in self.forks:
                    self._reap(fd)
                elif fd in replies and replies[fd] in self.forks:
                    self._maybe_abandoned(replies[fd])

    def _request(self) -> None:
        assert self.control is not None
        try:
            data, fds, _, _ = socket.recv_fds(self.control, 1 << 16, 64)
        except OSError:
            data, fds = b"", []
        if not data:
            for fd in fds:
                os.close(fd)
            self.control.close()
            self.control = None   # shut down: no more evaluations, finish the ones running
            return
        try:
            entries = list(json.loads(data)["warm"])
        except (ValueError, KeyError, TypeError):
            entries = None
        if entries is None or len(fds) != _N_FIXED + len(entries):
            for fd in fds:
                os.close(fd)
            return
        self._fork(entries, fds)

    def _fork(self, entries: list[dict[str, Any]], fds: list[int]) -> None:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        template = os.getpid()
        pid = os.fork()
        if pid == 0:
            self._child(entries, fds, template)   # never returns
        reply = socket.socket(fileno=fds[5])
        for fd in fds[:5] + fds[_N_FIXED:]:
            os.close(fd)
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            reply.close()
            return
        try:
            socket.send_fds(reply, [b"P"], [pidfd])
        except OSError:   # the engine gave up already
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        self.forks[pidfd] = (pid, reply)

    def _child(self, entries: list[dict[str, Any]], fds: list[int], template: int) -> None:
        """One evaluation: wait for "go", take the pipes, run the evaluation, exit."""
        try:
            for _, reply in self.forks.values():
                if reply is not None:
                    reply.detach()   # closed below by number: no object may close them again
            if self.control is not None:
                self.control.detach()
            _libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
            if os.getppid() != template:
                os._exit(_EXIT_SETUP_FAILED)   # the template died before the prctl
            os.setsid()
            os.close(fds[5])
            if os.read(fds[4], 1) != b"g":   # the engine gave up before the start
                os._exit(_EXIT_SETUP_FAILED)
            keep = fds[:4] + fds[_N_FIXED:]
            base = max(fds + [len(keep)]) + 1   # above every target and every open descriptor
            high = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, base) for fd in keep]
            for target, fd in enumerate(high):
                os.dup2(fd, target, inheritable=target < 3)
            os.closerange(len(keep), 1 << 20)
            numpy_random = sys.modules.get("numpy.random")
            if numpy_random is not None:
                numpy_random.seed()   # fresh entropy, as a fresh interpreter's (`random` reseeds itself)
        except BaseException as exc:  # noqa: BLE001 - never fall back into the template's loop
            try:
                os.write(2, f"evoforge warm evaluator host: {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(_EXIT_SETUP_FAILED)
        handed = [{**entry, "fd": len(keep) - len(entries) + i} for i, entry in enumerate(entries)]
        _host_worker.answer_and_exit(3, self.imported, warm_entries=handed)

    def _reap(self, pidfd: int) -> None:
        pid, reply = self.forks.pop(pidfd)
        try:
            _, status, usage = os.wait4(pid, 0)
            if reply is not None:
                reply.send(json.dumps({"status": status, "cpu": usage.ru_utime + usage.ru_stime,
                                       "maxrss": usage.ru_maxrss * 1024}).encode())
        except OSError:
            pass
        finally:
            if reply is not None:
                reply.close()
            os.close(pidfd)

    def _maybe_abandoned(self, pidfd: int) -> None:
        """A reply socket became readable: the engine hung up (kill the fork) or it is noise."""
        pid, reply = self.forks[pidfd]
        assert reply is not None
        try:
            gone = reply.recv(64, socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            gone = False
        except OSError:
            gone = True
        if gone:
            try:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            except OSError:
                pass
            reply.close()
            self.forks[pidfd] = (pid, None)   # reaped when its pidfd says it ended


def main(argv: list[str]) -> None:
    control = socket.socket(fileno=int(argv[1]))
    os.set_inheritable(control.fileno(), False)
    try:
        setup = json.loads(control.recv(1 << 16))
        level = IsolationLevel[setup["isolation"]]
        set_recipe(level, setup.get("recipe"))
        imported = _host_worker.import_evaluator(setup["task_dir"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        control.send(json.dumps({"ready": False, "reason": f"bad setup: {exc}"}).encode())
        os._exit(0)
    if imported[1] is not None:
        control.send(json.dumps({"ready": False, "reason": imported[1]}).encode())
        os._exit(0)
    if threading.active_count() > 1:
        control.send(json.dumps({"ready": False, "reason": (
            "evaluate.py starts threads when imported; a fork would not have them")}).encode())
        os._exit(0)
    gc.collect()
    gc.freeze()   # what every fork shares: its collector never touches (never copies) these pages
    control.send(json.dumps({"ready": True, "pid": os.getpid(), "modules": _modules()}).encode())
    Template(control, imported).serve()
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
