"""What each isolation level guarantees, in one table: the start-up line, the README's Safety
section and the conformance suite all say the same thing.

Why a module of its own: the landlock level's guarantees depend on the machine (the kernel's
Landlock ABI, whether user namespaces work), so the words are computed from the probe's
recipe rather than written once. Level names are plain strings here so that `isolation.py`
can import this module without a cycle.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass

LEVELS = ("bwrap", "landlock", "unshare", "none")


@dataclass(frozen=True)
class LandlockSetup:
    """How the landlock level runs here: the kernel's ABI and the namespaces around it."""

    abi: int
    namespaces: str   # "full" (user+pid+net+mount), "min" (user+net), "none"
    seccomp: bool

    @classmethod
    def from_recipe(cls, recipe: Sequence[str] | None) -> LandlockSetup | None:
        """Decode `isolation._probed[LANDLOCK]`: ["abi=7", "full"|"min"|"none", "seccomp=1",
        unshare argv...]."""
        if not recipe or not str(recipe[0]).startswith("abi="):
            return None
        return cls(abi=int(recipe[0][4:]), namespaces=recipe[1],
                   seccomp=recipe[2] == "seccomp=1")

    @property
    def pid_ns(self) -> bool:
        return self.namespaces == "full"

    @property
    def net_ns(self) -> bool:
        return self.namespaces in ("full", "min")


# row -> (words in the start-up line, words in the table)
ROWS = {
    "hides_files": ("host files hidden", "host files unreadable (task folder, hidden data, $HOME, the run's database)"),
    "writes_confined": ("writes only in the work dir", "writes only in the candidate's work dir (not /tmp, not the task)"),
    "metadata_fixed": ("host file modes fixed", "cannot change the mode, owner or times of host files (cold bwrap run as root: except the device nodes bwrap binds in /dev)"),
    "no_network": ("no network", "no TCP/UDP to the host or the internet"),
    "no_unix_sockets": ("no host unix sockets", "host unix sockets unreachable (docker.sock, abstract sockets)"),
    "own_processes": ("own pid namespace", "other processes invisible, daemons die with the sandbox"),
    "evaluator_safe": ("evaluator out of reach", "cannot signal, ptrace or read the memory of the evaluator"),
    "no_capabilities": ("no capabilities", "holds no capabilities"),
    "seccomp": ("seccomp", "seccomp filter (ptrace, process_vm_*, mount, keyctl, bpf, perf, userfaultfd, io_uring ... return EPERM)"),
}


def holds(level: str, setup: LandlockSetup | None = None, *, bwrap_seccomp: bool = False
          ) -> dict[str, bool]:
    """Row -> whether `level` keeps that promise on this machine."""
    if level == "bwrap":
        return {row: (row != "seccomp" or bwrap_seccomp) for row in ROWS}
    if level == "unshare":
        return {row: row in ("no_network", "own_processes", "evaluator_safe") for row in ROWS}
    if level == "none":
        return {row: False for row in ROWS}
    if level != "landlock":
        raise ValueError(f"unknown isolation level {level!r}")
    s = setup or LandlockSetup(abi=6, namespaces="full", seccomp=True)
    return {
        "hides_files": True,
        "writes_confined": True,
        # Landlock does not govern chmod/chown/utime/xattrs: a read-only mount tree does
        # (`lockdown --ro-root`), which needs the mount namespace of the full setup
        "metadata_fixed": s.pid_ns,
        # net namespace, or Landlock TCP (ABI 4) + seccomp refusing AF_INET sockets
        "no_network": s.net_ns or s.seccomp,
        # Landlock does not filter connecting to path-based sockets: seccomp refuses
        # socket(AF_UNIX) (socketpair stays allowed)
        "no_unix_sockets": s.seccomp,
        "own_processes": s.pid_ns,
        # Landlock always keeps ptrace (and /proc/PID/mem) inside the sandbox; signals need a
        # pid namespace or ABI 6 scoping
        "evaluator_safe": s.pid_ns or s.abi >= 6,
        "no_capabilities": True,
        "seccomp": s.seccomp,
    }


def landlock_title(setup: LandlockSetup | None) -> str:
    if setup is None:
        return "landlock"
    ns = {"full": " + unshare (user/pid/net namespaces)", "min": " + unshare (user/net "
          "namespaces, no pid namespace)", "none": " (no namespaces: unshare or user "
          "namespaces are not usable here)"}[setup.namespaces]
    return f"landlock ABI {setup.abi}{ns}" + (" + seccomp" if setup.seccomp else "")


def landlock_missing(setup: LandlockSetup) -> list[str]:
    """Features an older Landlock ABI lacks, in words (said aloud at start)."""
    missing = []
    if setup.abi < 4:
        missing.append("TCP bind/connect not filtered by Landlock (ABI < 4)"
                       + (": the network namespace closes it" if setup.net_ns else ""))
    if setup.abi < 6:
        missing.append("signals and abstract unix sockets not scoped (ABI < 6)"
                       + (": the pid namespace and seccomp cover them" if setup.pid_ns else ""))
    if setup.abi < 3:
        missing.append("truncate not filtered (ABI < 3)")
    return missing


def summary(level: str, setup: LandlockSetup | None = None, *, bwrap_seccomp: bool = False
            ) -> str:
    """One start-up line: the level, then exactly what holds and what does not."""
    got = holds(level, setup, bwrap_seccomp=bwrap_seccomp)
    yes = [ROWS[name][0] for name, ok in got.items() if ok]
    no = [ROWS[name][0] for name, ok in got.items() if not ok]
    title = {"bwrap": "bubblewrap" + (" + seccomp" if bwrap_seccomp else ""),
             "landlock": landlock_title(setup),
             "unshare": "unshare only", "none": "NO ISOLATION"}[level]
    line = f"{title}: holds: {', '.join(yes) or 'nothing'}"
    if no:
        line += f"; does NOT hold: {', '.join(no)}"
    if level == "landlock" and setup is not None:
        missing = landlock_missing(setup)
        if missing:
            line += "; older kernel: " + "; ".join(missing)
        line += ("; note: file names can still be probed with stat (Landlock does not filter "
                 "metadata)")
    if level == "bwrap" and os.geteuid() == 0:
        line += ("; note: run as root, a cold call (an interact() session, or warm sandboxes "
                 "off) can still change the mode and times of /dev/null and the other device "
                 "nodes bwrap binds")
    if level == "unshare":
        line += " - candidates CAN READ the whole file system, including hidden task data"
    if level == "none":
        line += (" - candidate programs run as plain subprocesses with only resource limits; "
                 "they can read your files and use the network")
        if sys.platform == "darwin":
            line += (" (macOS has neither namespaces nor Landlock: 'none' is the only level "
                     "there; run evoforge in a Linux VM or container for isolation)")
    return line


def table(setup: LandlockSetup | None = None, *, bwrap_seccomp: bool = False) -> str:
    """The guarantees of every level as a Markdown table (README, `announce`, benchmarks)."""
    head = "| guarantee | " + " | ".join(LEVELS) + " |"
    lines = [head, "|---|" + "---|" * len(LEVELS)]
    cols = {lv: holds(lv, setup, bwrap_seccomp=bwrap_seccomp) for lv in LEVELS}
    for row, (_, text) in ROWS.items():
        marks = ["yes" if cols[lv][row] else "no" for lv in LEVELS]
        lines.append(f"| {text} | " + " | ".join(marks) + " |")
    return "\n".join(lines)
