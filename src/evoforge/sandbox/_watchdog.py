"""Limits no rlimit can enforce, checked from outside while a candidate runs.

- Disk (`SandboxLimits.disk_mb`): RLIMIT_FSIZE caps one file, so a candidate writing many files
  could fill the host disk at disk speed until the timeout. The watchdog sums the allocated
  size (``st_blocks * 512``: sparse files count what they really use) of the candidate's
  writable dirs, plus the files its processes hold open after deleting them (a deleted file
  still fills the disk and is invisible to a walk; the processes are those of its cgroup, or
  without one those below the child in /proc), and kills the whole tree when the total goes
  over the limit. Between two checks (`interval`, 50 ms by default) a fast writer can
  overshoot by what the disk absorbs in that time; the check after the process has ended
  catches the rest, so a call never *succeeds* over the limit.
- Memory of the whole tree (`Cgroup.limits_memory`): when the memory cgroup's OOM killer has
  killed one of the candidate's processes, the rest of the tree is killed too and the call is
  reported as over its memory limit (rather than hanging on a dead child or dying later with a
  bare SIGKILL).

- CPU of the whole tree (`cpu_budget_s`, from `candidate.call(..., cpu_budget_s=)` and
  ``evaluator.cpu_budget_s``): RLIMIT_CPU is per process and counts whole seconds, so N
  processes could each burn just under it. The watchdog reads the tree's CPU time (the cgroup's
  ``cpu.stat`` when there is one, else the sum over the tree's processes in ``/proc``, each
  with the time of the children it reaped) and kills the tree as soon as it is over the budget.
  Without a cgroup it also samples the tree's resident memory, the only peak-memory figure for
  processes that are never reaped by us (under bwrap).

The walk is cheap on purpose: `os.scandir` (one lstat per entry), no symlinks followed, no
other file systems entered, and it stops counting as soon as the limit is passed. When a walk
is slow (a huge tree), the next one waits longer: the watchdog keeps to about a tenth of one
core at most.
"""
from __future__ import annotations

import math
import os
import stat
import time
from collections.abc import Sequence

from evoforge.sandbox._cgroup import Cgroup
from evoforge.sandbox.cost import format_seconds

MIB = 1 << 20


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def disk_usage(paths: Sequence[str], stop_above: int | None = None,
               seen: set[tuple[int, int]] | None = None) -> int:
    """Bytes allocated on disk under `paths` (hard links counted once), not following
    symlinks nor entering other file systems. Stops early once the total is over
    `stop_above` (the result is then only known to be larger).

    Why directory file descriptors: the candidate keeps running while we walk its folder, and
    the walker is trusted (often root). Every directory is opened relative to its parent's fd
    with O_NOFOLLOW, so swapping a directory for a symlink mid-walk cannot send the walk, or
    the permission repair below, anywhere outside the candidate's folder."""
    seen = set() if seen is None else seen
    total = 0
    for top in paths:
        try:
            fd = os.open(top, _DIR_FLAGS)
        except OSError:
            continue
        try:
            root = os.fstat(fd)
        except OSError:
            os.close(fd)
            continue
        device = root.st_dev
        total += root.st_blocks * 512
        stack = [fd]
        try:
            while stack:
                dir_fd = stack.pop()
                try:
                    entries = _scandir(dir_fd)
                    for entry in entries:
                        try:
                            info = entry.stat(follow_symlinks=False)
                        except OSError:
                            continue
                        if info.st_dev != device:
                            continue  # a mount point: not this file system
                        if info.st_nlink > 1 and not stat.S_ISDIR(info.st_mode):
                            key = (info.st_dev, info.st_ino)
                            if key in seen:
                                continue
                            seen.add(key)
                        total += info.st_blocks * 512
                        if stop_above is not None and total > stop_above:
                            return total
                        if stat.S_ISDIR(info.st_mode):
                            try:
                                stack.append(os.open(entry.name, _DIR_FLAGS, dir_fd=dir_fd))
                            except OSError:
                                continue  # gone, or swapped for a symlink: not followed
                finally:
                    os.close(dir_fd)
        finally:
            for leftover in stack:
                os.close(leftover)
    return total


def _scandir(dir_fd: int) -> list[os.DirEntry[str]]:
    """Entries of an open directory. A directory the candidate made unreadable is ours to read
    (same owner): its mode is repaired through the fd itself, never through a path."""
    try:
        with os.scandir(dir_fd) as it:
            return list(it)
    except PermissionError:
        os.fchmod(dir_fd, stat.S_IRWXU)
        with os.scandir(dir_fd) as it:
            return list(it)


def deleted_open_files(pids: Sequence[int] | set[int], devices: set[int],
                       seen: set[tuple[int, int]] | None = None) -> int:
    """Bytes of regular files on `devices` that `pids` hold open after deleting them."""
    seen = set() if seen is None else seen
    total = 0
    for pid in pids:
        try:
            fds = list(os.scandir(f"/proc/{pid}/fd"))
        except OSError:
            continue
        for fd in fds:
            try:
                info = os.stat(fd.path)  # follows the magic link, even to a deleted file
            except OSError:
                continue
            if (info.st_nlink == 0 and stat.S_ISREG(info.st_mode) and info.st_dev in devices
                    and (info.st_dev, info.st_ino) not in seen):
                seen.add((info.st_dev, info.st_ino))
                total += info.st_blocks * 512
    return total


def descendants(pid: int, limit: int = 4096) -> set[int]:
    """`pid` and the processes below it, through /proc/PID/task/TID/children (processes that
    were re-parented away, like a double-forked daemon outside a pid namespace, are missed)."""
    found = {pid}
    queue = [pid]
    while queue and len(found) < limit:
        current = queue.pop()
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{current}/task/{tid}/children", encoding="ascii") as fh:
                    children = [int(c) for c in fh.read().split()]
            except (OSError, ValueError):
                continue
            for child in children:
                if child not in found:
                    found.add(child)
                    queue.append(child)
    return found


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def tree_usage(pids: Sequence[int] | set[int]) -> tuple[float, int]:
    """(CPU seconds, resident bytes) of `pids` together, from /proc/PID/stat: each process's
    user + system time plus that of the children it has reaped (a reaped child has left the
    tree, so nothing is counted twice). Processes that vanish meanwhile are skipped."""
    cpu_ticks = 0
    rss_pages = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as fh:
                text = fh.read()
        except OSError:
            continue
        # the command name (field 2) may hold spaces and parentheses: split after the last ")"
        rest = text[text.rfind(b")") + 2:].split()
        try:
            cpu_ticks += sum(int(x) for x in rest[11:15])  # utime stime cutime cstime
            rss_pages += max(0, int(rest[21]))
        except (IndexError, ValueError):
            continue
    return cpu_ticks / _TICKS, rss_pages * _PAGE


class TreeWatchdog:
    """Checks one sandboxed process tree against the limits that need watching.

    `check()` returns None while all is well, else the reason to kill the tree and report
    (e.g. "disk limit exceeded (17 MiB > disk_mb=16)"). The process runner calls it every
    `next_interval()` seconds while the tree runs, and once more after it has ended.
    """

    def __init__(self, *, cgroup: Cgroup | None = None, disk_dirs: Sequence[str] = (),
                 disk_mb: int | None = None, memory_mb: int | None = None,
                 cpu_budget_s: float | None = None, interval: float = 0.05) -> None:
        self.cgroup = cgroup
        self.cpu_budget_s = cpu_budget_s
        # Without a cgroup that accounts CPU, the tree's usage is sampled from /proc.
        self.samples_proc = cgroup is None or cgroup.cpu_seconds() is None
        self.cpu_seen = 0.0          # the most CPU seconds the tree was seen to have used
        self.rss_seen = 0            # the most resident bytes sampled for the tree (/proc only)
        self.cpu_exceeded = False
        self.disk_dirs = list(disk_dirs)
        self.disk_limit = int(disk_mb) * MIB if disk_mb is not None else None
        self.disk_mb = disk_mb
        self.memory_mb = memory_mb
        self.interval = interval
        self.root_pid: int | None = None  # set by the process runner once the tree is started
        self._cost = 0.0
        self.devices: set[int] = set()
        for path in self.disk_dirs:
            try:
                self.devices.add(os.stat(path).st_dev)
            except OSError:
                pass

    @property
    def active(self) -> bool:
        memory = self.cgroup is not None and self.cgroup.limits_memory
        return (memory or (self.disk_limit is not None and bool(self.disk_dirs))
                or self.cpu_budget_s is not None or self.samples_proc)

    def next_interval(self) -> float:
        return max(self.interval, 10 * self._cost)

    def check(self) -> str | None:
        start = time.monotonic()
        try:
            return self._cpu() or self._memory() or self._disk()
        finally:
            self._cost = time.monotonic() - start

    def sample(self) -> float:
        """Update and return `cpu_seen` (and `rss_seen` without a cgroup)."""
        if self.samples_proc:
            cpu, rss = tree_usage(self._pids())
            self.rss_seen = max(self.rss_seen, rss)
        else:
            assert self.cgroup is not None
            cpu = self.cgroup.cpu_seconds() or 0.0
        self.cpu_seen = max(self.cpu_seen, cpu)
        return self.cpu_seen

    def _cpu(self) -> str | None:
        used = self.sample()
        if self.cpu_budget_s is not None and used > self.cpu_budget_s:
            self.cpu_exceeded = True
            return (f"CPU budget exceeded (the candidate's processes used {format_seconds(used)} "
                    f"CPU, budget {format_seconds(self.cpu_budget_s)})")
        return None

    def _pids(self) -> set[int]:
        if self.cgroup is not None:
            return self.cgroup.pids()
        return descendants(self.root_pid) if self.root_pid is not None else set()

    def _memory(self) -> str | None:
        if self.cgroup is None or not self.cgroup.limits_memory:
            return None
        if self.cgroup.oom_kills() > 0:
            return (f"memory limit exceeded (the candidate's processes together needed more than "
                    f"memory_mb={self.memory_mb} MiB; the memory cgroup's OOM killer fired)")
        return None

    def _disk(self) -> str | None:
        if self.disk_limit is None or not self.disk_dirs:
            return None
        seen: set[tuple[int, int]] = set()
        used = disk_usage(self.disk_dirs, stop_above=self.disk_limit, seen=seen)
        if used <= self.disk_limit and self.devices:
            used += deleted_open_files(self._pids(), self.devices, seen)
        if used > self.disk_limit:
            return (f"disk limit exceeded ({math.ceil(used / MIB)} MiB > disk_mb={self.disk_mb} "
                    f"in the candidate's work dir)")
        return None
