"""The parent's handle on one warm call (`warm.py`): the call's pidfd, pipes and reply socket,
shaped like the bits of Popen that `_process.run_process` uses. Also used by the warm
evaluator hosts (`host_pool.py`), whose forks answer on the same kind of reply socket.
"""
from __future__ import annotations

import json
import os
import signal
import socket
from typing import Any

REPLY_TIMEOUT_S = 20.0      # a zygote (or warm host) that does not answer is restarted


class ZygoteLost(OSError):
    """The zygote died or stopped answering before the call started (it is restarted)."""


class WarmProcess:
    """The parent's handle on one warm call, shaped like the bits of Popen `run_process` uses:
    `pid` (the call's init, in our pid namespace), `stdin`/`stdout`/`stderr`, `pidfd`,
    `reap_usage()` (status and rusage from the middle process) and `kill_tree()`."""

    def __init__(self, pid: int, pidfd: int, reply: socket.socket, stdin: int | None,
                 stdout: int, stderr: int) -> None:
        self.pid = pid
        self.pidfd = pidfd
        self.returncode: int | None = None
        self.setup_failed = ""   # why the call's sandbox could not be set up (its init said)
        self._reply = reply
        self.stdin = os.fdopen(stdin, "wb", buffering=0) if stdin is not None else None
        self.stdout = os.fdopen(stdout, "rb", buffering=0)
        self.stderr = os.fdopen(stderr, "rb", buffering=0)

    def kill_tree(self) -> None:
        """SIGKILL the call's init through its pidfd: its pid namespace dies with it."""
        try:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)
        except (ProcessLookupError, OSError):
            pass

    def reap_usage(self) -> tuple[float | None, int | None]:
        """The call's exit status (as Popen's returncode) and its CPU seconds and peak RSS
        (wait4 of the middle process, which reaped it); waits for the middle's message."""
        if self.returncode is not None:
            return None, None
        self._reply.settimeout(REPLY_TIMEOUT_S)
        answer: dict[str, Any] = {}
        try:
            while True:   # the init's setup failure, if any, then the middle's status
                data = self._reply.recv(4096)
                message = json.loads(data) if data else {}
                if not isinstance(message, dict) or "setup_failed" not in message:
                    answer = message if isinstance(message, dict) else {}
                    break
                self.setup_failed = str(message["setup_failed"])
        except (OSError, ValueError):
            pass
        finally:
            self._reply.close()
            os.close(self.pidfd)
            self.pidfd = -1
        if "status" not in answer:
            self.returncode = -signal.SIGKILL
            return None, None
        self.returncode = os.waitstatus_to_exitcode(int(answer["status"]))
        return float(answer.get("cpu", 0.0)), int(answer.get("maxrss", 0)) or None


def pid_of(pidfd: int) -> int:
    """The pid, in our namespace, of the process behind `pidfd` (its fdinfo says)."""
    with open(f"/proc/self/fdinfo/{pidfd}", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("Pid:"):
                pid = int(line.split()[1])
                if pid > 0:
                    return pid
    os.close(pidfd)
    raise ZygoteLost("the call's process is already gone")
