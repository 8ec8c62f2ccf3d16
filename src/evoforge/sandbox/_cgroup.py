"""Best-effort cgroups: the only way to find and kill *every* process a candidate started.

Process groups are not enough: a candidate that double-forks and calls ``setsid`` leaves its
process group and escapes ``killpg``. A cgroup keeps every descendant, whatever it does, so
killing the cgroup kills them all. Two controllers also bound the whole process tree:
- ``pids`` caps the number of processes (a per-cgroup replacement for RLIMIT_NPROC, which is
  per-uid and ignored for root);
- ``memory`` caps the memory of all the tree's processes together (RLIMIT_AS is per process:
  N processes could otherwise hold N x memory_mb), page cache and tmpfs files included, with
  no swap. When the memory cgroup's OOM killer fires, the process runner kills the whole tree
  and reports "memory limit exceeded" (`oom_kills`).

This is opportunistic: it needs a writable cgroup hierarchy (typically root in a container or
a delegated systemd scope). When none is writable we silently fall back to process groups plus
the namespaces of bwrap/unshare, and memory is limited per process only. Supported: cgroup v2
(``cgroup.kill``, or a kill loop when absent; ``pids.max``/``memory.max`` when those
controllers are enabled for our cgroup's children in its ``cgroup.subtree_control``) and the
cgroup v1 ``pids`` and ``memory`` hierarchies (hybrid setups).
"""
from __future__ import annotations

import itertools
import logging
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("evoforge.sandbox")

_counter = itertools.count()
_hierarchies_cache: list[tuple[str, Path]] | None = None
_V1_CONTROLLERS = ("pids", "memory")  # the cgroup v1 hierarchies we use


def _mounts() -> list[tuple[str, str, str, str]]:
    """(fstype, mount root, mount point, super options) of cgroup mounts."""
    found = []
    try:
        # a mount point elsewhere may have any bytes in its name: only cgroup lines matter
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as fh:
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
    """{"v2": path, "pids": path, "memory": path} for the current process (those present),
    from /proc/self/cgroup."""
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
                else:
                    for name in controllers.split(","):
                        if name in _V1_CONTROLLERS:
                            own[name] = path
    except OSError:
        pass
    return own


def _join(mount_root: str, mount_point: str, path: str) -> Path | None:
    if mount_root != "/" and not (path == mount_root or path.startswith(mount_root + "/")):
        return None  # our cgroup is outside the mounted subtree
    rel = path[len(mount_root):] if mount_root != "/" else path
    return Path(mount_point) / rel.lstrip("/")


def hierarchies() -> list[tuple[str, Path]]:
    """Writable cgroups of the current process: [(kind, dir)], kind "v2" or the v1
    controllers of the hierarchy ("pids", "memory", "memory,pids" when co-mounted). Cached per
    process."""
    global _hierarchies_cache
    if _hierarchies_cache is not None:
        return _hierarchies_cache
    own = _own_cgroups()
    found: list[tuple[str, Path]] = []
    for fstype, root, point, options in _mounts():
        if fstype == "cgroup2":
            kind, key = "v2", "v2"
        else:
            used = sorted(set(options.split(",")) & set(_V1_CONTROLLERS))
            kind, key = ",".join(used), (used[0] if used else "")
        if not kind or key not in own or any(k == kind for k, _ in found):
            continue
        directory = _join(root, point, own[key])
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


def _forget_hierarchies() -> None:
    global _hierarchies_cache
    _hierarchies_cache = None


# A forked process (a warm evaluator host's evaluation) may be in another cgroup than its
# parent: it must look again, or its candidates' cgroups would not nest under its own.
os.register_at_fork(after_in_child=_forget_hierarchies)


def _write(path: Path, value: str) -> bool:
    try:
        path.write_text(value)
        return True
    except OSError as exc:
        log.debug("cannot write %s to %s: %s", value, path, exc)
        return False


def _read_keyed(path: Path) -> dict[str, int]:
    """A flat-keyed cgroup file ("key value" lines: memory.events, memory.oom_control)."""
    found: dict[str, int] = {}
    try:
        text = path.read_text(encoding="ascii")
    except OSError:
        return found
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        if value.strip().isdigit():
            found[key] = int(value)
    return found


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _limit_memory(directory: Path, limit: int) -> list[Path]:
    """Cap the memory of `directory` at `limit` bytes, without swap; the files that took it."""
    done: list[Path] = []
    if (directory / "memory.max").exists():  # v2
        if _write(directory / "memory.max", str(limit)):
            done.append(directory / "memory.max")
            if (directory / "memory.swap.max").exists():
                _write(directory / "memory.swap.max", "0")
            if (directory / "memory.oom.group").exists():  # an OOM kill takes the whole tree
                _write(directory / "memory.oom.group", "1")
    elif ((directory / "memory.limit_in_bytes").exists()  # v1
          and _write(directory / "memory.limit_in_bytes", str(limit))):
        done.append(directory / "memory.limit_in_bytes")
        # memory+swap: set after the memory limit (the kernel wants memsw >= memory)
        if (directory / "memory.memsw.limit_in_bytes").exists():
            _write(directory / "memory.memsw.limit_in_bytes", str(limit))
    return done


@dataclass
class Cgroup:
    """A fresh leaf cgroup in each usable hierarchy, for one sandboxed process tree.

    `memory_files` lists the files whose limit was actually set (``memory.max`` in v2,
    ``memory.limit_in_bytes`` in v1); empty when no memory cgroup could limit the tree.
    """

    dirs: list[tuple[str, Path]]
    memory_bytes: int | None = None
    memory_files: list[Path] = field(default_factory=list)

    @classmethod
    def create(cls, max_pids: int | None = None,
               memory_mb: int | None = None) -> "Cgroup | None":
        """Make the cgroup(s), or return None when cgroups are not usable here.

        `max_pids` caps the processes (pids controller), `memory_mb` the memory of the whole
        tree (memory controller, swap forbidden), where those controllers are available.
        """
        dirs: list[tuple[str, Path]] = []
        memory_files: list[Path] = []
        limit = int(memory_mb) << 20 if memory_mb is not None else None
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
                _write(directory / "pids.max", str(int(max_pids)))
            if limit is not None:
                memory_files += _limit_memory(directory, limit)
            dirs.append((kind, directory))
        if not dirs:
            return None
        return cls(dirs, limit if memory_files else None, memory_files)

    @property
    def procs_files(self) -> list[bytes]:
        """cgroup.procs paths, pre-encoded so the child can join between fork and exec."""
        return [os.fsencode(d / "cgroup.procs") for _, d in self.dirs]

    def add(self, pid: int) -> None:
        """Move a running process (not our child: a zygote's fork, waiting to start) in."""
        data = str(pid).encode()
        for path in self.procs_files:
            try:
                fd = os.open(path, os.O_WRONLY)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
            except OSError:
                pass

    @property
    def limits_pids(self) -> bool:
        return any((d / "pids.max").exists() for _, d in self.dirs)

    @property
    def limits_memory(self) -> bool:
        """Whether a memory cgroup bounds the whole tree (else only RLIMIT_AS, per process)."""
        return bool(self.memory_files)

    def oom_kills(self) -> int:
        """How many processes the memory cgroup's OOM killer has killed in this tree.

        v2: ``oom_kill`` of memory.events; v1: ``oom_kill`` of memory.oom_control (kernels
        >= 4.13; older ones: ``under_oom`` counts as one).
        """
        kills = 0
        for path in self.memory_files:
            if path.name == "memory.max":
                events = _read_keyed(path.with_name("memory.events"))
                kills += events.get("oom_kill", 0)
            else:
                control = _read_keyed(path.with_name("memory.oom_control"))
                kills += control.get("oom_kill", control.get("under_oom", 0))
        return kills

    def memory_peak(self) -> int | None:
        """The highest memory use of the tree, in bytes (None when not known): v2
        ``memory.peak`` (kernels >= 5.19, memory controller enabled), v1
        ``memory.max_usage_in_bytes``. Read whether or not a memory limit was set."""
        peaks = []
        for kind, directory in self.dirs:
            if kind == "v2":
                value = _read_int(directory / "memory.peak")
            elif "memory" in kind.split(","):
                value = _read_int(directory / "memory.max_usage_in_bytes")
            else:
                continue
            if value is not None:
                peaks.append(value)
        return max(peaks) if peaks else None

    def cpu_seconds(self) -> float | None:
        """CPU time used by the whole tree so far (cgroup v2 ``cpu.stat``, always present
        there); None without a v2 cgroup."""
        for kind, directory in self.dirs:
            if kind == "v2":
                usage = _read_keyed(directory / "cpu.stat").get("usage_usec")
                if usage is not None:
                    return usage / 1e6
        return None

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
