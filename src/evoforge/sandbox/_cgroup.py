"""Best-effort cgroups: the only way to find and kill *every* process a candidate started.

Process groups are not enough: a candidate that double-forks and calls ``setsid`` leaves its
process group and escapes ``killpg``. A cgroup keeps every descendant, whatever it does, so
killing the cgroup kills them all; the ``pids`` controller also caps the number of processes
(a per-cgroup replacement for RLIMIT_NPROC, which is per-uid and ignored for root).

This is opportunistic: it needs a writable cgroup hierarchy (typically root in a container or
a delegated systemd scope). When none is writable we silently fall back to process groups plus
the namespaces of bwrap/unshare. Supported: cgroup v2 (``cgroup.kill``, or a kill loop when
absent) and the cgroup v1 ``pids`` hierarchy (hybrid setups).
"""
from __future__ import annotations

import itertools
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("evoforge.sandbox")

_counter = itertools.count()
_hierarchies_cache: list[tuple[str, Path]] | None = None


def _mounts() -> list[tuple[str, str, str, str]]:
    """(fstype, mount root, mount point, super options) of cgroup mounts."""
    found = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as fh:
            for line in fh:
                left, _, right = line.partition(" - ")
                fields, rfields = left.split(), right.split()
                if len(fields) < 5 or len(rfields) < 3 or rfields[0] not in ("cgroup", "cgroup2"):
                    continue
                found.append((rfields[0], fields[3], fields[4], rfields[2]))
    except OSError:
        pass
    return found


def _own_cgroups() -> dict[str, str]:
    """{"v2": path, "pids": path} for the current process, from /proc/self/cgroup."""
    own: dict[str, str] = {}
    try:
        with open("/proc/self/cgroup", encoding="utf-8") as fh:
            for line in fh:
                parts = line.rstrip("\n").split(":", 2)
                if len(parts) != 3:
                    continue
                _, controllers, path = parts
                if controllers == "":
                    own["v2"] = path
                elif "pids" in controllers.split(","):
                    own["pids"] = path
    except OSError:
        pass
    return own


def _join(mount_root: str, mount_point: str, path: str) -> Path | None:
    if mount_root != "/" and not (path == mount_root or path.startswith(mount_root + "/")):
        return None  # our cgroup is outside the mounted subtree
    rel = path[len(mount_root):] if mount_root != "/" else path
    return Path(mount_point) / rel.lstrip("/")


def hierarchies() -> list[tuple[str, Path]]:
    """Writable cgroups of the current process: [("v2"|"pids", dir)]. Cached per process."""
    global _hierarchies_cache
    if _hierarchies_cache is not None:
        return _hierarchies_cache
    own = _own_cgroups()
    found: list[tuple[str, Path]] = []
    for fstype, root, point, options in _mounts():
        kind = "v2" if fstype == "cgroup2" else ("pids" if "pids" in options.split(",") else None)
        if kind is None or kind not in own or any(k == kind for k, _ in found):
            continue
        directory = _join(root, point, own[kind])
        if directory is None or not (directory / "cgroup.procs").exists():
            continue
        if not os.access(directory, os.W_OK):
            continue
        probe = directory / f"evoforge-probe-{os.getpid()}-{next(_counter)}"
        try:
            probe.mkdir()
            probe.rmdir()
        except OSError:
            continue
        found.append((kind, directory))
    _hierarchies_cache = found
    return found


@dataclass
class Cgroup:
    """A fresh leaf cgroup in each usable hierarchy, for one sandboxed process tree."""

    dirs: list[tuple[str, Path]]

    @classmethod
    def create(cls, max_pids: int | None = None) -> "Cgroup | None":
        """Make the cgroup(s), or return None when cgroups are not usable here."""
        dirs: list[tuple[str, Path]] = []
        # The creation time is in the name: cgroupfs (kernfs) only gives a directory its
        # timestamps when it is first looked at, so st_mtime cannot tell its age.
        name = f"evoforge-{os.getpid()}-{int(time.time())}-{next(_counter)}-{os.urandom(3).hex()}"
        for kind, parent in hierarchies():
            directory = parent / name
            try:
                directory.mkdir()
            except OSError as exc:
                log.debug("cannot create cgroup %s: %s", directory, exc)
                continue
            if max_pids is not None and (directory / "pids.max").exists():
                try:
                    (directory / "pids.max").write_text(str(int(max_pids)))
                except OSError as exc:
                    log.debug("cannot set pids.max in %s: %s", directory, exc)
            dirs.append((kind, directory))
        return cls(dirs) if dirs else None

    @property
    def procs_files(self) -> list[bytes]:
        """cgroup.procs paths, pre-encoded so the child can join between fork and exec."""
        return [os.fsencode(d / "cgroup.procs") for _, d in self.dirs]

    @property
    def limits_pids(self) -> bool:
        return any((d / "pids.max").exists() for _, d in self.dirs)

    def pids(self) -> set[int]:
        """Every process in the cgroup and its descendants."""
        found: set[int] = set()
        for _, top in self.dirs:
            for directory, _, _ in os.walk(top):
                try:
                    with open(os.path.join(directory, "cgroup.procs"), encoding="ascii") as fh:
                        found.update(int(x) for x in fh.read().split())
                except (OSError, ValueError):
                    continue
        return found

    def kill(self, wait: float = 2.0) -> None:
        """SIGKILL everything inside, until nothing is left (or `wait` seconds pass)."""
        for kind, directory in self.dirs:
            if kind == "v2" and (directory / "cgroup.kill").exists():
                try:
                    (directory / "cgroup.kill").write_text("1")
                except OSError:
                    pass
        deadline = time.monotonic() + wait
        while True:
            remaining = self.pids()
            if not remaining or time.monotonic() > deadline:
                break
            for pid in remaining:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            time.sleep(0.005)

    def remove(self) -> None:
        """Kill what is left, then remove the directories (deepest first)."""
        self.kill()
        for _, top in self.dirs:
            for _attempt in range(50):
                try:
                    for directory, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
                        os.rmdir(directory)
                    break
                except FileNotFoundError:
                    break
                except OSError:  # EBUSY while exiting processes are being torn down
                    time.sleep(0.01)
            else:  # pragma: no cover - depends on the kernel
                log.debug("could not remove cgroup %s", top)


def sweep_stale(min_age: float = 60.0) -> int:
    """Remove empty evoforge cgroups left behind by killed processes; returns how many.

    A cgroup of ours is only empty for milliseconds while in use (between mkdir and the child
    joining, and between its exit and `remove()`), so an empty one older than `min_age`
    seconds (by the time in its name) is garbage.
    """
    removed = 0
    now = time.time()
    for _, parent in hierarchies():
        try:
            entries = [e for e in os.scandir(parent) if e.name.startswith("evoforge-")
                       and e.is_dir(follow_symlinks=False)]
        except OSError:
            continue
        for entry in entries:
            parts = entry.name.split("-")
            if len(parts) != 5 or not parts[2].isdigit() or now - int(parts[2]) < min_age:
                continue
            stale = Cgroup([("stale", Path(entry.path))])
            if stale.pids():
                continue
            for directory, _, _ in sorted(os.walk(entry.path), key=lambda w: -len(w[0])):
                try:
                    os.rmdir(directory)
                except OSError:
                    break
            else:
                removed += 1
    return removed


def join_in_child(procs_files: list[bytes]) -> None:
    """Called between fork and exec: move this process into the cgroup(s). Never raises."""
    pid = str(os.getpid()).encode()
    for path in procs_files:
        try:
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, pid)
            finally:
                os.close(fd)
        except OSError:
            pass
