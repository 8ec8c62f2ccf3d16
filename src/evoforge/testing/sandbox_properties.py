"""What each sandbox isolation level promises: the properties checked by the conformance suite
(`sandbox_suite.SandboxTestCase`), the levels that keep each one, and the facts about this
machine (root, cgroups, Landlock's ABI and namespaces ...) that change the weaker levels' column.

A property a level does not promise is an expected failure of its test, raised as `Breach`.
"""
from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from evoforge.sandbox import (
    IsolationLevel,
)
from evoforge.sandbox._cgroup import hierarchies
from evoforge.sandbox.isolation import probe

PY = sys.executable
SECRET_ENV = {"OPENAI_API_KEY": "sk-secret-conformance-openai",
              "ANTHROPIC_API_KEY": "sk-ant-secret-conformance",
              "EVOFORGE_TEST_TOKEN": "token-secret-conformance"}
ALLOWED_ENV = {"PATH", "LANG", "PYTHONHASHSEED", "HOME", "PYTHONDONTWRITEBYTECODE",
               "PYTHONUSERBASE", "PWD",  # bwrap sets PWD for --chdir
               "TMPDIR"}  # landlock: the work dir, /tmp is not writable there


class Breach(AssertionError):
    """The sandbox let something through that the property under test forbids."""


def breach_if(condition: Any, message: str) -> None:
    if condition:
        raise Breach(message)


# -- what each level promises ------------------------------------------------------------------

def cgroups_writable() -> bool:
    """Whether a writable cgroup hierarchy is available (processes are then tracked by cgroup)."""
    return bool(hierarchies())


def has_capability(bit: int) -> bool:
    """Whether this process holds capability number `bit` (CAP_SYS_PTRACE=19, ...)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except OSError:
        pass
    return False


CAP_SYS_PTRACE = 19
CAP_SYS_RESOURCE = 24


def _yama_scope() -> int:
    """kernel.yama.ptrace_scope (0 when Yama is absent: classic same-uid ptrace rules)."""
    try:
        with open("/proc/sys/kernel/yama/ptrace_scope", encoding="ascii") as fh:
            return int(fh.read().strip() or 0)
    except (OSError, ValueError):
        return 0


def _pids_cgroup_works() -> bool:
    from evoforge.sandbox._cgroup import Cgroup

    group = Cgroup.create(8)
    if group is None:
        return False
    try:
        return group.limits_pids
    finally:
        group.remove()


def _memory_cgroup_works() -> bool:
    from evoforge.sandbox._cgroup import Cgroup

    group = Cgroup.create(memory_mb=64)
    if group is None:
        return False
    try:
        return group.limits_memory
    finally:
        group.remove()


def memory_cgroup_works() -> bool:
    """Whether a memory cgroup can bound a candidate's whole process tree here (cached)."""
    return _conditions()["memory-cgroup"]


def conditions() -> dict[str, bool]:
    """Facts about this machine that change what the weaker levels can promise (cached)."""
    return dict(_conditions())


@functools.lru_cache(maxsize=1)
def _conditions() -> dict[str, bool]:
    root = os.getuid() == 0
    cgroups = cgroups_writable()
    return {
        "root": root,
        "cgroups": cgroups,
        "no-cgroups": not cgroups,
        # RLIMIT_NPROC is ignored for root: only a pids cgroup caps processes then.
        "no-pids-cap": root and not _pids_cgroup_works(),
        # Without a memory cgroup, memory_mb is RLIMIT_AS: per process, not per tree.
        "memory-cgroup": _memory_cgroup_works(),
        "no-memory-cgroup": not _memory_cgroup_works(),
        "no-capabilities": _engine_has_no_capabilities(),
        "cap_sys_ptrace": has_capability(CAP_SYS_PTRACE),
        # May a plain process trace a non-descendant of the same user (the evaluator host)?
        "ptrace_allowed": has_capability(CAP_SYS_PTRACE) or _yama_scope() == 0,
        "cap_sys_resource": has_capability(CAP_SYS_RESOURCE),
        # landlock's column depends on the namespaces and the ABI its probe found
        "landlock-no-pidns": _landlock_lacks("pid_ns"),
        "landlock-no-netns": _landlock_lacks("net_ns"),
        "landlock-no-seccomp": _landlock_lacks("seccomp"),
        "landlock-no-seccomp-no-netns": _landlock_lacks("seccomp") and _landlock_lacks("net_ns"),
        "bwrap-no-seccomp": not _bwrap_seccomp(),
        "ptrace_denied": not (has_capability(CAP_SYS_PTRACE) or _yama_scope() == 0),
        "landlock-unscoped": _landlock_lacks("pid_ns") and landlock_setup_abi() < 6,
    }


def _landlock_setup():  # type: ignore[no-untyped-def]
    from evoforge.sandbox.isolation import landlock_setup

    probe(IsolationLevel.LANDLOCK)
    return landlock_setup()


def _bwrap_seccomp() -> bool:
    from evoforge.sandbox.isolation import recipe_for

    return "seccomp" in (recipe_for(IsolationLevel.BWRAP) or [])[2:]


def landlock_setup_abi() -> int:
    setup = _landlock_setup()
    return setup.abi if setup else 0


def _landlock_lacks(feature: str) -> bool:
    setup = _landlock_setup()
    return setup is not None and not getattr(setup, feature)


@dataclass(frozen=True)
class Property:
    """A promise of the sandbox, with the levels that keep it and why the others do not."""

    name: str
    summary: str
    levels: frozenset[IsolationLevel]
    weaker: dict[IsolationLevel, str] = field(default_factory=dict)
    # Extra (level, condition) pairs under which the property holds after all, or fails after all.
    also_when: tuple[tuple[IsolationLevel, str], ...] = ()
    unless: tuple[tuple[IsolationLevel, str], ...] = ()

    def provided(self, level: IsolationLevel, facts: dict[str, bool] | None = None) -> bool:
        facts = conditions() if facts is None else facts
        ok = level in self.levels or any(level == lv and facts.get(c, False)
                                         for lv, c in self.also_when)
        return ok and not any(level == lv and facts.get(c, False) for lv, c in self.unless)

    def why_not(self, level: IsolationLevel) -> str:
        return self.weaker.get(level, f"{level.name.lower()} does not promise: {self.summary}")


ALL = frozenset(IsolationLevel)
B = IsolationLevel.BWRAP
L = IsolationLevel.LANDLOCK
U = IsolationLevel.UNSHARE
N = IsolationLevel.NONE
_PLAIN = "plain subprocess level: no isolation beyond rlimits (documented, loud warning)"
_NO_FS = "no file-system isolation at this level: the whole host file system is visible"
_RW_FS = ("no file-system isolation at this level: the host file system is writable with the "
          "user's rights (isolation.py describes unshare as 'CAN READ' only)")
_RW_FS_PLAIN = "plain subprocess level: the host file system is writable (documented)"

PROPERTIES: dict[str, Property] = {p.name: p for p in [
    Property("plain_data", "results cross the boundary as plain data, never objects", ALL),
    Property("exit_is_not_success", "exit code 0 or sys.exit(0) is never an answer", ALL),
    Property("timeout_kills_tree", "on timeout the whole process tree is killed", ALL),
    Property("kills_daemons", "a double-forked daemon (own session) is killed too",
             frozenset({B, L, U}), {N: "plain level without a writable cgroup: a daemon that "
                                       "left its process group escapes (documented)",
                                    L: "landlock without a pid namespace (no user namespaces "
                                       "here) and without a writable cgroup"},
             also_when=((N, "cgroups"),),
             unless=((L, "landlock-no-pidns"),)),
    Property("clean_environment", "no inherited environment variables (API keys)", ALL),
    Property("fresh_work_dir", "a fresh private work dir per candidate, removed afterwards", ALL),
    Property("clock_outside", "time is measured by the parent, not by the candidate", ALL),
    Property("output_capped", "stdout/stderr kept up to max_output_bytes", ALL),
    Property("result_capped", "the result is refused above max_result_bytes", ALL),
    Property("memory_limit", "one process cannot allocate more than memory_mb", ALL),
    Property("tree_memory_limit", "all the candidate's processes together cannot hold more "
             "than memory_mb (memory cgroup)", ALL,
             unless=((B, "no-memory-cgroup"), (U, "no-memory-cgroup"), (N, "no-memory-cgroup")),
             weaker={lv: "no writable memory cgroup here: memory_mb is RLIMIT_AS, a limit per "
                         "process (documented in limits.py)" for lv in ALL}),
    Property("disk_limit", "the work dir cannot hold more than disk_mb, deleted-but-open files "
             "included", ALL),
    Property("cpu_limit", "a process cannot burn more CPU than cpu_seconds", ALL),
    Property("file_size_limit", "a file cannot grow beyond file_size_mb", ALL),
    Property("open_files_limit", "at most open_files file descriptors", ALL),
    Property("process_limit", "at most max_processes processes",
             ALL, unless=((B, "no-pids-cap"), (U, "no-pids-cap"), (N, "no-pids-cap")),
             weaker={lv: "running as root without a pids cgroup: RLIMIT_NPROC is ignored for "
                         "root, nothing caps processes (documented in limits.py)" for lv in ALL}),
    Property("rlimits_stick", "a candidate cannot raise its own limits", ALL,
             unless=((N, "cap_sys_resource"),), weaker={N: _PLAIN + " (CAP_SYS_RESOURCE)"}),
    Property("no_network", "no TCP/UDP to the host (127.0.0.1)", frozenset({B, L, U}),
             {N: _PLAIN, L: "landlock without a network namespace and without seccomp here"},
             unless=((L, "landlock-no-seccomp-no-netns"),)),
    Property("no_host_unix_sockets", "no path-based unix sockets of the host (docker.sock)",
             frozenset({B, L}), {U: "unshare hides the network, not the file system: "
                                    "path-based unix sockets stay reachable", N: _PLAIN,
                                 L: "Landlock does not filter connect() to path-based unix "
                                    "sockets and seccomp is not available here"},
             unless=((L, "landlock-no-seccomp"),)),
    Property("no_abstract_sockets", "no abstract unix sockets of the host",
             frozenset({B, L, U}), {N: _PLAIN}),
    Property("hides_host_files", "host files (task folder, hidden data) are not readable",
             frozenset({B, L}), {U: _NO_FS, N: _NO_FS}),
    Property("host_read_only", "nothing outside the work dir can be written on the host",
             frozenset({B, L}), {U: _RW_FS, N: _RW_FS_PLAIN}),
    Property("host_metadata_fixed", "the mode, owner and times of host files cannot be "
             "changed", frozenset({B, L}), {U: _RW_FS, N: _RW_FS_PLAIN,
                                            L: "landlock without a mount namespace: Landlock does "
                                               "not govern chmod, chown, utime or xattrs"},
             unless=((L, "landlock-no-pidns"),)),
    Property("isolates_candidates", "a candidate cannot touch another candidate's folder",
             frozenset({B, L}), {U: _RW_FS, N: _RW_FS_PLAIN}),
    Property("hides_processes", "other processes (and their /proc/PID/environ) are invisible",
             frozenset({B, L, U}), {N: _PLAIN}),
    Property("host_memory_private", "the evaluator's memory and files stay out of reach "
             "(ptrace, process_vm_readv, /proc/PID/mem)", frozenset({B, L, U}),
             {N: _PLAIN + " (same user, ptrace allowed)"}, also_when=((N, "ptrace_denied"),)),
    Property("drops_capabilities", "the candidate holds no capabilities at all",
             frozenset({B, L}),
             {U: "unshare maps the candidate to root of its own user namespace: it holds every "
                 "capability there (not over the host)",
              N: "plain level: the candidate keeps the capabilities of the engine's user"},
             also_when=((N, "no-capabilities"),)),
    Property("seccomp_filter", "ptrace, keyctl, io_uring ... return EPERM (seccomp)",
             frozenset({B, L}), {U: "unshare installs no seccomp filter: the candidate is root "
                                    "of its user namespace and may call them",
                                 N: _PLAIN, B: "bwrap without our filter here (no filter for "
                                               "this architecture, or bwrap refused it)",
                                 L: "no seccomp filter for this architecture"},
             unless=((B, "bwrap-no-seccomp"), (L, "landlock-no-seccomp"))),
    Property("evaluator_survives", "the candidate cannot kill the trusted evaluator process",
             frozenset({B, L, U}), {N: _PLAIN, L: "landlock without a pid namespace on a "
                                                   "kernel without signal scoping (ABI < 6)"},
             unless=((L, "landlock-unscoped"),)),
]}


def provides(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator naming the property a conformance test checks."""
    if name not in PROPERTIES:
        raise KeyError(f"unknown sandbox property {name!r}")

    def mark(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.sandbox_property = name  # type: ignore[attr-defined]
        return fn

    return mark


def available_levels() -> list[IsolationLevel]:
    """The levels that work on this machine (probed for real, cached)."""
    return [level for level in IsolationLevel if probe(level)]


def expectation_table(facts: dict[str, bool] | None = None) -> str:
    """PROPERTIES on this machine as a text table: "yes" where a level promises the property,
    "no" where its conformance test is an expected failure (printed by
    benchmarks/bench_isolation.py)."""
    facts = conditions() if facts is None else facts
    levels = [B, L, U, N]
    lines = [f"{'property':22} " + " ".join(f"{lv.name.lower():8}" for lv in levels)]
    for prop in PROPERTIES.values():
        marks = ["yes" if prop.provided(lv, facts) else "no" for lv in levels]
        lines.append(f"{prop.name:22} " + " ".join(f"{m:8}" for m in marks))
    return "\n".join(lines)


def _engine_has_no_capabilities() -> bool:
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("CapEff:"):
                    return int(line.split()[1], 16) == 0
    except OSError:
        pass
    return True
