"""Observers on the host for the sandbox conformance suite: marker processes that must be gone,
digests of folders that must not change, and `Listener`, real endpoints that record whatever
reaches them.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import select
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

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
