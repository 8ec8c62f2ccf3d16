"""Isolation levels for candidate processes, chosen automatically and said aloud once.

BWRAP   bubblewrap: new user/pid/net/ipc/uts/mount namespaces, uid 65534 without
        capabilities, read-only system dirs + the Python installation, a private writable work
        dir as the only writable place on disk, /tmp and /dev/shm size-capped tmpfs (RAM),
        no network. The task folder and hidden
        data are simply not mounted. The candidate's processes live in a pid namespace whose
        init dies with its parent, so nothing (not even a double-forked daemon) survives.
UNSHARE `unshare --user --net --pid --fork --kill-child --mount-proc`: no network, a pid
        namespace (daemons die with it), but the whole file system is readable.
NONE    plain subprocess with rlimits: no file-system or network isolation. A double-forked
        daemon escapes the process-group kill unless a writable cgroup is available
        (see `_cgroup.py`). Loud warning.

Each level is probed once per process with a real run of the Python interpreter (bwrap can
be installed yet unusable, e.g. without user namespaces in a container), and cached.
"""
from __future__ import annotations

import enum
import logging
import os
import shutil
import site
import subprocess
import sys
import tempfile
from collections.abc import Sequence

from evoforge.errors import UserError

log = logging.getLogger("evoforge.sandbox")


class IsolationLevel(enum.IntEnum):
    """How strongly candidate processes are isolated; higher is stronger."""

    NONE = 0
    UNSHARE = 1
    BWRAP = 2

    @classmethod
    def parse(cls, name: "str | IsolationLevel") -> "IsolationLevel":
        if isinstance(name, IsolationLevel):
            return name
        try:
            return cls[str(name).strip().upper()]
        except KeyError:
            raise UserError(
                f"unknown sandbox isolation {name!r}: use one of auto, bwrap, unshare, none"
            ) from None

    def describe(self) -> str:
        """One line for logs and the CLI: what this level protects against, and what not."""
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    IsolationLevel.BWRAP: "bubblewrap (namespaces, read-only system, private work dir, "
                          "no network, all candidate processes killed with the sandbox)",
    IsolationLevel.UNSHARE: "unshare only (no network, own pid namespace) - candidates CAN "
                            "READ the whole file system, including hidden task data; install "
                            "bubblewrap for file-system isolation",
    IsolationLevel.NONE: "NO ISOLATION - candidate programs run as plain subprocesses with "
                         "only resource limits; they can read your files and use the network. "
                         "Install bubblewrap (apt-get install bubblewrap) for real isolation",
}

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/alternatives", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group",
    "/etc/mime.types", "/etc/os-release",
)
_UNSHARE_FULL = ["--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child",
                 "--mount-proc"]
_UNSHARE_MIN = ["--user", "--map-root-user", "--net"]

# level -> recipe that worked ([bwrap path, "userns"|"plain"] or [unshare path, *flags]),
# None when the level does not work here. JSON-able: the evaluator host process receives it.
_probed: dict[IsolationLevel, list[str] | None] = {}
_announced: set[IsolationLevel] = set()


def python_paths() -> list[str]:
    """Directories a sandboxed Python needs read-only: the installation and site-packages.

    Only what is outside /usr (already mounted); nested paths are collapsed.
    """
    candidates = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix,
                  os.path.dirname(os.path.dirname(os.path.realpath(sys.executable)))}
    try:
        candidates.update(site.getsitepackages())
    except AttributeError:  # pragma: no cover - old virtualenv site.py
        pass
    user_site = user_site_dir()
    if user_site:
        candidates.add(user_site)
    paths = set()
    for path in candidates:
        for p in (os.path.abspath(path), os.path.realpath(path)):
            if os.path.isdir(p) and not any(p == d or p.startswith(d + "/") for d in ("/usr",)):
                paths.add(p)
    ordered = sorted(paths, key=len)
    kept: list[str] = []
    for p in ordered:
        if not any(p == k or p.startswith(k.rstrip("/") + "/") for k in kept):
            kept.append(p)
    return kept


def user_site_dir() -> str | None:
    """The user site-packages, if enabled and present (HOME changes in the sandbox, so it is
    passed explicitly through PYTHONUSERBASE)."""
    if not site.ENABLE_USER_SITE:
        return None
    path = site.getusersitepackages()
    return path if os.path.isdir(path) else None


TMPFS_BYTES = 256 << 20


def _bwrap_prefix(exe: str, work_dirs: Sequence[str], ro_dirs: Sequence[str], chdir: str,
                  user_ns: bool) -> list[str]:
    args = [exe, "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL"]
    if user_ns:
        args += ["--unshare-user", "--uid", "65534", "--gid", "65534"]
    for d in _SYSTEM_DIRS:
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    for f in _ETC_FILES:
        args += ["--ro-bind-try", f, f]
    # /tmp and /dev/shm are RAM: cap them, or writing files there would escape the memory
    # limit where no memory cgroup counts them (--dev alone gives /dev/shm a tmpfs of half the RAM)
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMPFS_BYTES), "--tmpfs", "/tmp",
             "--size", str(TMPFS_BYTES), "--tmpfs", "/dev/shm"]
    for p in python_paths():
        args += ["--ro-bind", p, p]
    for p in ro_dirs:
        args += ["--ro-bind", p, p]
    for p in work_dirs:
        args += ["--bind", p, p]
    args += ["--chdir", chdir, "--"]
    return args


def wrap_command(level: IsolationLevel, argv: Sequence[str], *, work_dir: str,
                 ro_dirs: Sequence[str] = ()) -> list[str]:
    """`argv` wrapped for `level`. `work_dir` is the only writable place under bwrap;
    `ro_dirs` are extra read-only mounts (the runtime dir holding our worker script)."""
    if level == IsolationLevel.NONE:
        return list(argv)
    if not probe(level):
        raise UserError(_unavailable(level, best_available()))
    recipe = _probed[level]
    assert recipe is not None
    if level == IsolationLevel.BWRAP:
        return _bwrap_prefix(recipe[0], [work_dir], ro_dirs, work_dir,
                             user_ns=recipe[1] == "userns") + list(argv)
    return list(recipe) + ["--"] + list(argv)


def clean_env(home: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The whole environment of a candidate: nothing inherited, so no API keys."""
    path_dirs = [os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]
    env = {
        "PATH": ":".join(dict.fromkeys(path_dirs)),
        "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "HOME": home,
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if user_site_dir():
        env["PYTHONUSERBASE"] = site.getuserbase()
    env.update(extra or {})
    return env


def _probe_variant(level: IsolationLevel, variant: str) -> list[str] | None:
    """Run the interpreter under one variant of `level`; return its recipe, or None."""
    exe = shutil.which("bwrap" if level == IsolationLevel.BWRAP else "unshare")
    if exe is None:
        return None
    if level == IsolationLevel.BWRAP:
        recipe = [exe, variant]
    else:
        recipe = [exe] + (_UNSHARE_FULL if variant == "full" else _UNSHARE_MIN)
    with tempfile.TemporaryDirectory(prefix="evoforge-probe-") as tmp:
        code = "import os; print('evoforge-probe-ok', os.getcwd())"
        argv = [sys.executable, "-c", code]
        if level == IsolationLevel.BWRAP:
            cmd = _bwrap_prefix(exe, [tmp], [], tmp, user_ns=(variant == "userns")) + argv
        else:
            cmd = recipe + ["--"] + argv
        try:
            out = subprocess.run(cmd, env=clean_env(tmp), cwd=tmp, capture_output=True,
                                 timeout=20, stdin=subprocess.DEVNULL)
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("isolation probe %s/%s failed: %s", level.name, variant, exc)
            return None
        if out.returncode != 0 or b"evoforge-probe-ok" not in out.stdout:
            log.debug("isolation probe %s/%s failed (rc=%s): %s", level.name, variant,
                      out.returncode, out.stderr.decode(errors="replace")[-500:])
            return None
        return recipe


def probe(level: IsolationLevel) -> bool:
    """Whether `level` works here (cached per process)."""
    if level == IsolationLevel.NONE:
        return True
    if level not in _probed:
        variants = ("userns", "plain") if level == IsolationLevel.BWRAP else ("full", "min")
        found = None
        for variant in variants:
            found = _probe_variant(level, variant)
            if found is not None:
                if level == IsolationLevel.UNSHARE and variant == "min":
                    log.warning("unshare works without a pid namespace here: daemons started "
                                "by a candidate may survive it")
                break
        _probed[level] = found
    return _probed[level] is not None


def set_recipe(level: IsolationLevel, recipe: list[str] | None) -> None:
    """Seed the cache: the evaluator host subprocess receives the parent's probe result
    instead of probing again for every evaluation."""
    if level != IsolationLevel.NONE:
        _probed[level] = list(recipe) if recipe is not None else None


def recipe_for(level: IsolationLevel) -> list[str] | None:
    """How `level` is run here (probing if needed); None for NONE or when unavailable."""
    if level == IsolationLevel.NONE or not probe(level):
        return None
    return _probed.get(level)


def best_available() -> IsolationLevel:
    """The strongest level that works on this machine (probes are cached)."""
    for level in (IsolationLevel.BWRAP, IsolationLevel.UNSHARE):
        if probe(level):
            return level
    return IsolationLevel.NONE


def detect_isolation(isolation: "str | IsolationLevel" = "auto", *,
                     require: "str | IsolationLevel | None" = None) -> IsolationLevel:
    """The level candidates will run under, said aloud once.

    `isolation`: "auto" = the strongest that works here; a level name ("bwrap", "unshare",
    "none") = exactly that level (UserError if it does not work here).
    `require`: a minimum; UserError if the chosen level is weaker (e.g. `require="bwrap"` on
    a machine without a usable bubblewrap). Config values of both are validated here too.
    """
    if isinstance(isolation, str) and isolation.strip().lower() == "auto":
        level = best_available()
    else:
        level = IsolationLevel.parse(isolation)
        if not probe(level):
            raise UserError(_unavailable(level, best_available()))
    if require is not None and not (isinstance(require, str) and require.strip().lower()
                                    in ("", "auto")):
        minimum = IsolationLevel.parse(require)
        if level < minimum:
            best = best_available()
            if best < minimum:
                raise UserError(_unavailable(minimum, best))
            raise UserError(f"sandbox isolation '{level.name.lower()}' is weaker than the "
                            f"required '{minimum.name.lower()}' (use isolation: auto)")
    announce(level)
    return level


def resolve_isolation(isolation: "str | IsolationLevel" = "auto") -> IsolationLevel:
    """Same as `detect_isolation(isolation)`: "auto" or exactly the named level."""
    return detect_isolation(isolation)


def _unavailable(wanted: IsolationLevel, best: IsolationLevel) -> str:
    hint = {
        IsolationLevel.BWRAP: "install bubblewrap (apt-get install bubblewrap) and make sure "
                              "user namespaces are allowed (or run as root)",
        IsolationLevel.UNSHARE: "allow unprivileged user namespaces "
                                "(sysctl kernel.unprivileged_userns_clone=1)",
        IsolationLevel.NONE: "",
    }[wanted]
    return (f"sandbox isolation '{wanted.name.lower()}' is not available on this machine "
            f"(best available: '{best.name.lower()}'); {hint}")


def announce(level: IsolationLevel) -> None:
    """Say once per process which isolation candidates run under."""
    if level in _announced:
        return
    _announced.add(level)
    if level == IsolationLevel.BWRAP:
        log.info("sandbox: %s", level.describe())
    else:
        log.warning("sandbox: %s", level.describe())
