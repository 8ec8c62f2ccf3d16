"""Helpers shared by the sandbox tests (imported by name: tests/ has no packages)."""
from __future__ import annotations

import os
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from evoforge.sandbox._cgroup import hierarchies
from evoforge.sandbox.isolation import IsolationLevel, probe

AVAILABLE = [level for level in IsolationLevel if probe(level)]
NAMESPACED = [level for level in AVAILABLE if level != IsolationLevel.NONE]
HAS_BWRAP = IsolationLevel.BWRAP in AVAILABLE
HAS_CGROUPS = bool(hierarchies())
FIXTURES = Path(__file__).parent / "fixtures"

needs_bwrap = pytest.mark.skipif(not HAS_BWRAP, reason="bubblewrap is not usable here "
                                 "(apt-get install -y bubblewrap)")


def level_id(level: IsolationLevel) -> str:
    return level.name.lower()


def write_task(root: Path, evaluate: str, **files: str) -> Path:
    """A task folder with `evaluate.py` (dedented) and extra files."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "evaluate.py").write_text(textwrap.dedent(evaluate))
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def new_marker() -> str:
    return f"evoforge-test-marker-{uuid.uuid4().hex}"


def processes_with(marker: str) -> list[int]:
    """Live (non-zombie) processes whose command line contains `marker`, seen from here.

    Works across pid namespaces: pids written by a namespaced candidate mean nothing outside.
    """
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as fh:
                cmdline = fh.read()
            with open(f"/proc/{entry}/stat", "rb") as fh:
                state = fh.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if marker.encode() in cmdline and state != b"Z":
            found.append(int(entry))
    return found


def is_alive(pid: int) -> bool:
    """os.kill(pid, 0) succeeds on zombies too (a container's pid 1 may never reap them)."""
    try:
        os.kill(pid, 0)
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (ProcessLookupError, FileNotFoundError):
        return False


def wait_gone(marker: str, seconds: float = 3.0) -> list[int]:
    """Wait until no process carries `marker`; return the survivors (empty = all dead)."""
    deadline = time.monotonic() + seconds
    while True:
        alive = processes_with(marker)
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.05)


def kill_marked(marker: str) -> None:
    import signal

    for pid in processes_with(marker):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
