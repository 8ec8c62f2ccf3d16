"""Integrity of the trusted side: the evaluator and task files are hashed at start, and any
change during the run stops it (a candidate, or anything else, rewriting the grader is the
one shortcut that would make every later score meaningless)."""
from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from ..errors import EvoforgeError

SKIP_DIRS = {"__pycache__", ".git", ".pytest_cache"}


class IntegrityError(EvoforgeError):
    """The task's trusted files changed during the run."""


def _files(root: Path) -> list[Path]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIP_DIRS]
        out.extend(Path(dirpath) / f for f in filenames if not f.endswith((".pyc", ".db", ".db-wal", ".db-shm")))
    return sorted(out)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class TaskIntegrity:
    """Hashes at start; `check()` is cheap (stat first, hash only what looks changed)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._lock = threading.Lock()
        self.hashes = {p: _digest(p) for p in _files(self.root)}
        self.stats = {p: self._stat(p) for p in self.hashes}
        self._last_check = 0.0
        # the first change found, kept: once the task changed, every later check fails the same way,
        # and the engine asks `violation` instead of reading an evaluation's reason text
        self.violation: IntegrityError | None = None

    @staticmethod
    def _stat(p: Path) -> tuple[int, int]:
        st = p.stat()
        return st.st_size, st.st_mtime_ns

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for p, d in sorted(self.hashes.items()):
            h.update(f"{p.relative_to(self.root)}:{d}\n".encode())
        return h.hexdigest()

    def check(self, min_interval: float = 0.0) -> None:
        """Raise `IntegrityError` if any task file changed. `min_interval` (seconds) skips the
        folder walk when it ran that recently (the per-proposal check; the check after every
        evaluation stage passes 0)."""
        import time

        with self._lock:
            if self.violation is not None:
                raise self.violation
            now = time.monotonic()
            if min_interval and now - self._last_check < min_interval:
                return
            self._last_check = now
            try:
                self._compare()
            except IntegrityError as exc:
                self.violation = exc
                raise

    def _compare(self) -> None:
        """Raise `IntegrityError` at the first difference from the files hashed at start."""
        current = set(_files(self.root))
        added = current - set(self.hashes)
        if added:
            raise IntegrityError(f"task files appeared during the run: {', '.join(sorted(str(p.relative_to(self.root)) for p in added))}")
        for p, digest in self.hashes.items():
            try:
                st = self._stat(p)
            except FileNotFoundError:
                raise IntegrityError(f"task file {p.relative_to(self.root)} was removed during the run") from None
            if st != self.stats[p]:
                if _digest(p) != digest:
                    raise IntegrityError(f"task file {p.relative_to(self.root)} changed during the run; "
                                         "the run stops because its scores can no longer be trusted")
                self.stats[p] = st
