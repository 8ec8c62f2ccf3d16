"""Per-candidate resource limits, and the code that applies them between fork and exec.

Why rlimits and not only a wall-clock timeout: a candidate that allocates 50 GB or writes an
endless file can hurt the machine long before the timeout fires. rlimits are per process and
inherited, so they hold inside bwrap/unshare too.

Caveats (documented because they surprise people):
- `memory_mb` is RLIMIT_AS, a limit *per process*, and, where a memory cgroup is writable (see
  `_cgroup.py`: cgroup v1 ``memory`` hierarchy, or cgroup v2 with the memory controller
  delegated), also the limit of the candidate's whole process tree together (page cache and
  tmpfs files included, no swap); the tree is then killed when the cgroup's OOM killer fires,
  reported as "memory limit exceeded". Without a writable memory cgroup the limit is per
  process only: N processes may hold N x memory_mb (up to max_processes of them).
- RLIMIT_AS limits *virtual* memory: thread-heavy libraries (OpenBLAS, JAX) reserve a lot of
  address space, so keep `memory_mb` generous (default 4 GiB) for numeric candidates.
- RLIMIT_NPROC counts every process of the *real uid* system-wide and is ignored for root.
  So the process cap is enforced with a ``pids`` cgroup when one is writable; otherwise, for
  non-root users only, RLIMIT_NPROC is set to (processes the uid already has + max_processes).
  As root without cgroups there is no process cap (the wall-clock timeout still kills).
- Output size is not an rlimit: the parent keeps at most `max_output_bytes` per stream.
- Disk is not an rlimit either (RLIMIT_FSIZE, `file_size_mb`, caps one file): `disk_mb` caps
  the total the candidate stores in its work dir (allocated blocks, plus files it deleted but
  still holds open), checked every 50 ms by a watchdog in the parent (`_watchdog.py`), which
  kills the whole tree and reports "disk limit exceeded". Under unshare and none the rest of
  the file system is writable too and is not counted; under bwrap the work dir is the only
  writable place on disk (/tmp is a size-capped tmpfs, i.e. memory).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import math
import os
import resource
import signal
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from typing import Any

from evoforge.sandbox._cgroup import join_in_child

_PR_SET_PDEATHSIG = 1
try:
    _libc: Any = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
except OSError:  # pragma: no cover - non-glibc platforms
    _libc = None


@dataclass(frozen=True)
class SandboxLimits:
    """Limits for each sandboxed process (one `candidate.call` or `candidate.run`).

    None disables a limit. `cpu_seconds=None` derives the CPU limit from the call's timeout.
    `memory_mb` is per process (RLIMIT_AS) and, where a memory cgroup is writable, also for the
    whole process tree together; `disk_mb` is the total the candidate may store in its work dir
    (see the module docstring for both).
    """

    memory_mb: int | None = 4096
    cpu_seconds: float | None = None
    file_size_mb: int | None = 256
    disk_mb: int | None = 1024
    max_processes: int | None = 256
    open_files: int | None = 1024
    max_output_bytes: int = 1 << 20
    max_result_bytes: int = 16 << 20   # the trusted host decodes it: keep forged payloads small
    use_cgroups: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> "SandboxLimits":
        if not data:
            return cls()
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown sandbox limits: {sorted(unknown)}")
        return cls(**data)


def _count_uid_processes(uid: int) -> int:
    count = 0
    try:
        entries = os.listdir("/proc")
    except OSError:
        return 0
    for entry in entries:
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


def _clamp(res: int, soft: int, hard: int) -> tuple[int, int]:
    """(soft, hard) not above the current hard limit (lowering is always allowed)."""
    _, current = resource.getrlimit(res)
    if current != resource.RLIM_INFINITY:
        soft, hard = min(soft, current), min(hard, current)
    return (soft, hard)


def rlimits_for(limits: SandboxLimits, timeout: float | None, *,
                pids_by_cgroup: bool) -> list[tuple[int, tuple[int, int]]]:
    """The setrlimit calls for one process, computed in the parent (cheap, allocation-free
    application in the child)."""
    plan: list[tuple[int, int]] = [(resource.RLIMIT_CORE, 0)]
    # RLIMIT_AS stays even when a memory cgroup bounds the tree: a single hog then gets a clean
    # MemoryError instead of an OOM kill.
    if limits.memory_mb is not None:
        plan.append((resource.RLIMIT_AS, int(limits.memory_mb) << 20))
    cpu = limits.cpu_seconds
    if cpu is None and timeout is not None:
        cpu = timeout + 1.0
    if cpu is not None:
        plan.append((resource.RLIMIT_CPU, max(1, math.ceil(cpu))))
    if limits.file_size_mb is not None:
        plan.append((resource.RLIMIT_FSIZE, int(limits.file_size_mb) << 20))
    if limits.open_files is not None:
        plan.append((resource.RLIMIT_NOFILE, int(limits.open_files)))
    if limits.max_processes is not None and not pids_by_cgroup and os.getuid() != 0:
        current = _count_uid_processes(os.getuid())
        plan.append((resource.RLIMIT_NPROC, current + int(limits.max_processes)))
    out = []
    for res, value in plan:
        # CPU: SIGXCPU at the soft limit (the worker turns it into an exception), SIGKILL at
        # the hard limit one second later.
        hard = value + 1 if res == resource.RLIMIT_CPU else value
        out.append((res, _clamp(res, value, hard)))
    return out


def cpu_hard_limit(rlimits: list[tuple[int, tuple[int, int]]]) -> int | None:
    """The hard RLIMIT_CPU (seconds) of a plan from `rlimits_for`, if any."""
    for res, (_, hard) in rlimits:
        if res == resource.RLIMIT_CPU and hard != resource.RLIM_INFINITY:
            return hard
    return None


def make_preexec(rlimits: list[tuple[int, tuple[int, int]]], *,
                 cgroup_procs: list[bytes] | None = None,
                 die_with_parent: bool = True) -> Callable[[], None]:
    """A preexec_fn: join the cgroup, apply rlimits, ask to be killed if our parent dies.

    The parent-death signal makes an orphaned sandbox die when the evaluator host is killed
    (e.g. on an evaluation timeout). It only covers the direct child; bwrap/unshare carry it
    to the rest through their pid namespace.
    """
    procs = list(cgroup_procs or [])
    libc = _libc if die_with_parent else None

    def preexec() -> None:
        if procs:
            join_in_child(procs)
        for res, pair in rlimits:
            try:
                resource.setrlimit(res, pair)
            except (ValueError, OSError):
                pass
        if libc is not None:
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)

    return preexec
