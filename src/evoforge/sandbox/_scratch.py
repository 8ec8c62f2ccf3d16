"""Private scratch directories that are removed even when their owner was SIGKILLed.

Each evaluation and each Candidate gets a fresh ``evoforge-{eval,cand}-PID-*`` directory. Its
owner holds an flock on the directory for as long as it uses it. A process that is killed
(the engine supports kill-and-resume) cannot run its ``finally`` blocks, so the next process
sweeps: any such directory whose lock it can take is abandoned and is removed. flock is per
open file in the kernel, so this holds across pid namespaces, unlike checking pids.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import stat
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from evoforge.sandbox import _cgroup

PREFIXES = ("evoforge-eval-", "evoforge-cand-")
_swept = False
_sweep_lock = threading.Lock()


def remove_tree(path: Path) -> None:
    """rmtree that also copes with directories the candidate made unreadable.

    Permissions are repaired only strictly inside `path`, and only on real directories: an error
    on `path` itself (already removed by a concurrent sweep, say) must never chmod its parent,
    which is the shared temp folder (it once left /tmp at 0700 for every other user)."""
    root = os.path.abspath(path)

    def inside(target: str) -> bool:
        return os.path.commonpath([root, target]) == root and target != root

    def fix(func: Any, target: str, exc: Any) -> None:
        error = exc[1] if isinstance(exc, tuple) else exc
        if isinstance(error, FileNotFoundError):
            return
        target = os.path.abspath(target)
        try:
            parent = os.path.dirname(target)
            for directory in (parent, target):
                if (directory == root or inside(directory)) and stat.S_ISDIR(os.lstat(directory).st_mode):
                    os.chmod(directory, stat.S_IRWXU)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


class Scratch:
    """A fresh 0700 directory, locked until `remove()`."""

    def __init__(self, kind: str, parent: str | Path | None = None) -> None:
        self.path = Path(tempfile.mkdtemp(prefix=f"evoforge-{kind}-{os.getpid()}-",
                                          dir=parent))
        os.chmod(self.path, 0o700)
        self._fd: int | None = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def remove(self) -> None:
        if self._fd is None:
            return
        try:
            remove_tree(self.path)
        finally:
            os.close(self._fd)
            self._fd = None


def sweep_stale(parent: str | Path | None = None, min_age: float = 10.0) -> int:
    """Remove abandoned scratch directories under `parent` (default: the temp dir).

    `min_age` covers the instant between mkdtemp and flock in a live process.
    """
    parent = Path(parent or tempfile.gettempdir())
    removed = 0
    now = time.time()
    try:
        entries = [e for e in os.scandir(parent) if e.name.startswith(PREFIXES)]
    except OSError:
        return 0
    for entry in entries:
        try:
            if not entry.is_dir(follow_symlinks=False) or now - entry.stat().st_mtime < min_age:
                continue
            fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue  # its owner is alive
        try:
            remove_tree(Path(entry.path))
            removed += 1
        finally:
            os.close(fd)
    return removed


def sweep_once() -> None:
    """Sweep stale scratch dirs and cgroups once per process (cheap, best effort)."""
    global _swept
    with _sweep_lock:
        if _swept:
            return
        _swept = True
    try:
        sweep_stale()
        _cgroup.sweep_stale()
    except Exception:  # noqa: BLE001 - cleanup must never break an evaluation
        pass
