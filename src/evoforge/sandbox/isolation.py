"""Isolation levels for candidate processes, chosen automatically and said aloud once.

BWRAP   bubblewrap: new user/pid/net/ipc/uts/mount namespaces, uid 65534 without
        capabilities, read-only system dirs + the Python installation, a private writable work
        dir as the only writable place on disk, /tmp and /dev/shm size-capped tmpfs (RAM),
        no network. The task folder and hidden
        data are simply not mounted. The candidate's processes live in a pid namespace whose
        init dies with its parent, so nothing (not even a double-forked daemon) survives.
LANDLOCK the kernel's Landlock LSM (unprivileged, Linux >= 5.13), inside the unshare namespaces
        where user namespaces work: the trusted launcher `launch.py` lets the candidate read
        and execute only the interpreter, the system libraries and its runtime dir, read /proc,
        write only its work dir (TMPDIR points there; /dev/shm is a private capped tmpfs); TCP
        bind/connect denied (ABI >= 4), signals and abstract sockets scoped (ABI >= 6); a
        seccomp filter refuses ptrace, process_vm_*, mount, keyctl, bpf, perf_event_open,
        userfaultfd, io_uring, socket(AF_UNIX) ...; no capabilities. For machines without
        bubblewrap; what an older kernel lacks is said aloud (`guarantees.py`).
UNSHARE `unshare --user --net --pid --fork --kill-child --mount-proc`: no network, a pid
        namespace (daemons die with it), but the whole file system is readable.
NONE    plain subprocess with rlimits: no file-system or network isolation. A double-forked
        daemon escapes the process-group kill unless a writable cgroup is available
        (see `_cgroup.py`). Loud warning.

Each level is probed once per process with a real run of the Python interpreter (bwrap can
be installed yet unusable, e.g. without user namespaces in a container), and cached.
`auto` picks bwrap, then landlock, then unshare, then none. On macOS only `none` exists.
EVOFORGE_LANDLOCK_ABI=N (at probe time) makes landlock use at most ABI N, as on an older kernel.
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
from collections.abc import Callable, Sequence

from evoforge.errors import UserError
from evoforge.sandbox import (
    bwrap_seccomp,
    guarantees,
    landlock,
    lockdown,  # the launcher's code: its bytecode cache is written here
    seccomp,
)

log = logging.getLogger("evoforge.sandbox")


class IsolationLevel(enum.IntEnum):
    """How strongly candidate processes are isolated; higher is stronger."""

    NONE = 0
    UNSHARE = 1
    LANDLOCK = 2
    BWRAP = 3

    @classmethod
    def parse(cls, name: str | IsolationLevel) -> IsolationLevel:
        if isinstance(name, IsolationLevel):
            return name
        try:
            return cls[str(name).strip().upper()]
        except KeyError:
            raise UserError(
                f"unknown sandbox isolation {name!r}: use one of auto, bwrap, landlock, "
                "unshare, none"
            ) from None

    def describe(self) -> str:
        """One line for logs and the CLI: exactly what this level holds here, and what not
        (landlock's words depend on the kernel ABI and the namespaces its probe found)."""
        setup = landlock_setup() if self == IsolationLevel.LANDLOCK else None
        line = guarantees.summary(self.name.lower(), setup, bwrap_seccomp=_bwrap_has_seccomp())
        if self < IsolationLevel.LANDLOCK:
            line += ("; install bubblewrap (apt-get install bubblewrap) or use a kernel with "
                     "Landlock (Linux >= 5.13) for file-system isolation")
        return line

_SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_FILES = (
    "/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d", "/etc/localtime",
    "/etc/alternatives", "/etc/nsswitch.conf", "/etc/passwd", "/etc/group",
    "/etc/mime.types", "/etc/os-release",
)


def system_dirs() -> tuple[str, ...]:
    """The system folders every level lets a candidate read and execute."""
    return _SYSTEM_DIRS


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


def bwrap_prefix(exe: str, work_dirs: Sequence[str], ro_dirs: Sequence[str], chdir: str,
                 user_ns: bool, *, zygote_root: str | None = None) -> list[str]:
    """bwrap's argv up to ``--`` for a cold call; with `zygote_root`, for a warm zygote
    instead (`warm_bwrap`): uid 0 of its user namespace with its capabilities *there*, no
    parent-death signal (it is per thread), and the scratch root bound for its calls."""
    zygote = zygote_root is not None
    args = [exe, "--unshare-all", "--new-session"]
    args += ["--cap-add", "ALL"] if zygote else ["--die-with-parent", "--cap-drop", "ALL"]
    if user_ns:
        ids = "0" if zygote else "65534"
        args += ["--unshare-user", "--uid", ids, "--gid", ids]
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
    if zygote_root is not None:   # before the Python paths: those stay read-only on top
        args += ["--bind", zygote_root, zygote_root]
    for p in python_paths():
        args += ["--ro-bind", p, p]
    for p in ro_dirs:
        args += ["--ro-bind", p, p]
    for p in work_dirs:
        args += ["--bind", p, p]
    # bwrap's root and /dev are uncapped tmpfs (RAM) too, writable by the candidate; /proc's
    # sysctls are the host's, and bwrap skips its covers of them when run as root: read-only
    # (a zygote's calls write their uid maps in its /proc, and mount fresh read-only ones)
    args += ["--remount-ro", "/", "--remount-ro", "/dev"]
    args += [] if zygote else ["--remount-ro", "/proc"]
    args += ["--chdir", chdir, "--"]
    return args


def wrap_command(level: IsolationLevel, argv: Sequence[str], *, work_dir: str,
                 ro_dirs: Sequence[str] = ()) -> list[str]:
    """`argv` wrapped for `level`. `work_dir` is the only writable place under bwrap and
    landlock; `ro_dirs` are extra read-only places (the runtime dir holding our worker)."""
    if level == IsolationLevel.NONE:
        return list(argv)
    if not probe(level):
        raise UserError(_unavailable(level, best_available()))
    recipe = _probed[level]
    assert recipe is not None
    if level == IsolationLevel.BWRAP:
        wrapped = bwrap_prefix(recipe[0], [work_dir], ro_dirs, work_dir,
                                user_ns=recipe[1] == "userns") + list(argv)
        return bwrap_seccomp.wrap(wrapped) if "seccomp" in recipe[2:] else wrapped
    if level == IsolationLevel.LANDLOCK:
        return _landlock_command(recipe, argv, work_dir, ro_dirs)
    return list(recipe) + ["--"] + list(argv)


LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "launch.py")
_DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")
_LANDLOCK_VARIANTS = ("full", "min", "none")   # namespaces around Landlock, best first


def landlock_paths(ro_dirs: Sequence[str] = ()) -> dict[str, list[str]]:
    """What a candidate may touch under landlock besides its work dir: read+execute the
    system dirs, the Python installation (site-packages included) and `ro_dirs`; read the
    few /etc files bwrap mounts too, and /proc; read/write the harmless devices."""
    rx = [d for d in _SYSTEM_DIRS if os.path.exists(d)] + python_paths() + list(ro_dirs)
    return {"rx": list(dict.fromkeys(rx)), "r": [*_ETC_FILES, "/proc"],
            "dev": list(_DEVICES)}


def _landlock_command(recipe: Sequence[str], argv: Sequence[str], work_dir: str,
                      ro_dirs: Sequence[str]) -> list[str]:
    """[unshare ... --] python -I -S launch.py --rx ... --rw WORK ... -- argv."""
    prefix = list(recipe[3:])
    args = [sys.executable, "-I", "-S", LAUNCHER] + launcher_options(recipe, work_dir, ro_dirs)
    return prefix + (["--"] if prefix else []) + args + ["--"] + list(argv)


def launcher_options(recipe: Sequence[str], work_dir: str,
                     ro_dirs: Sequence[str]) -> list[str]:
    """The options of `lockdown.py` (before ``--``) for one candidate under landlock `recipe`:
    the cold launcher and the warm zygote's per-call child apply the very same list."""
    setup = guarantees.LandlockSetup.from_recipe(recipe)
    assert setup is not None
    args = ["--abi", str(setup.abi)]
    for kind, paths in landlock_paths(ro_dirs).items():
        for path in paths:
            args += [f"--{kind}", path]
    args += ["--rw", work_dir, "--tmpdir", work_dir]
    if setup.pid_ns:  # a mount namespace too: /dev/shm private, every other mount read-only
        args += ["--shm", str(TMPFS_BYTES), "--ro-root"]
    if not setup.seccomp:
        args.append("--no-seccomp")
    else:
        # path-based unix sockets are beyond Landlock; without a network namespace UDP too
        families = [seccomp.AF_UNIX] + ([] if setup.net_ns else [seccomp.AF_INET,
                                                                  seccomp.AF_INET6])
        for family in families:
            args += ["--deny-family", str(family)]
    return args


def landlock_setup() -> guarantees.LandlockSetup | None:
    """How landlock runs here (from the cached probe; None before probing or if unusable)."""
    return guarantees.LandlockSetup.from_recipe(_probed.get(IsolationLevel.LANDLOCK))


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


def _landlock_recipe(variant: str) -> list[str] | None:
    """["abi=N", variant, "seccomp=0|1", unshare argv...], or None when it cannot apply."""
    abi = landlock.abi_version()
    cap = os.environ.get("EVOFORGE_LANDLOCK_ABI", "").strip()
    if cap.isdigit() and int(cap) > 0:  # documented hook: behave like an older kernel
        abi = min(abi, int(cap))
    if abi < 1:
        return None
    head = [f"abi={abi}", variant, f"seccomp={int(seccomp.supported())}"]
    if variant == "none":
        return head
    exe = shutil.which("unshare")
    if exe is None:
        return None
    return head + [exe] + (_UNSHARE_FULL if variant == "full" else _UNSHARE_MIN)


_PROBE_SECRET = "evoforge-probe-secret"


def _cache_launcher_bytecode() -> None:
    """Write the bytecode cache of the launcher's helpers (even under PYTHONDONTWRITEBYTECODE):
    `launch.py` runs once per candidate call and compiling them costs ~50 ms each time."""
    import py_compile

    for module in (lockdown, landlock, seccomp):
        try:
            py_compile.compile(module.__file__, doraise=True,
                               invalidation_mode=py_compile.PycInvalidationMode.TIMESTAMP)
        except (OSError, py_compile.PyCompileError):  # read-only install: compiled each time
            pass


def _probe_landlock(variant: str) -> list[str] | None:
    """Run the interpreter under landlock: it must start, and must NOT read a file next to
    its work dir (Landlock really enforced, not silently skipped)."""
    recipe = _landlock_recipe(variant)
    if recipe is None:
        return None
    _cache_launcher_bytecode()
    with tempfile.TemporaryDirectory(prefix="evoforge-probe-") as tmp:
        work = os.path.join(tmp, "work")
        os.mkdir(work)
        secret = os.path.join(tmp, "secret.txt")
        with open(secret, "w", encoding="ascii") as fh:
            fh.write(_PROBE_SECRET)
        code = (f"import os\ntry:\n    open({secret!r}).read()\n    print('landlock-not-enforced')\n"
                "except PermissionError:\n    print('evoforge-probe-ok', os.getcwd())\n")
        cmd = _landlock_command(recipe, [sys.executable, "-c", code], work, [])
        try:
            out = subprocess.run(cmd, env=clean_env(work), cwd=work, capture_output=True,
                                 timeout=20, stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("isolation probe LANDLOCK/%s failed: %s", variant, exc)
            return None
        if out.returncode != 0 or b"evoforge-probe-ok" not in out.stdout:
            log.debug("isolation probe LANDLOCK/%s failed (rc=%s): %s %s", variant,
                      out.returncode, out.stdout[-200:], out.stderr[-500:])
            return None
        return recipe


def _bwrap_has_seccomp() -> bool:
    return "seccomp" in (_probed.get(IsolationLevel.BWRAP) or [])[2:]


def _probe_bwrap_seccomp(recipe: list[str]) -> bool:
    """Whether bwrap (as `recipe` runs it) accepts our filter and the filter bites: ptrace
    must return EPERM inside, while the interpreter starts normally."""
    with tempfile.TemporaryDirectory(prefix="evoforge-probe-") as tmp:
        code = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
                "rc = libc.ptrace(0, 0, 0, 0)\n"
                "print('evoforge-probe-ok' if rc == -1 and ctypes.get_errno() == 1 else rc)\n")
        cmd = bwrap_seccomp.wrap(bwrap_prefix(recipe[0], [tmp], [], tmp,
                                               user_ns=recipe[1] == "userns")
                                 + [sys.executable, "-c", code])
        if cmd[0] == recipe[0]:  # no filter file could be made
            return False
        try:
            out = subprocess.run(cmd, env=clean_env(tmp), cwd=tmp, capture_output=True,
                                 timeout=20, stdin=subprocess.DEVNULL, check=False)
        except (OSError, subprocess.SubprocessError):
            return False
        return out.returncode == 0 and b"evoforge-probe-ok" in out.stdout


def _probe_variant(level: IsolationLevel, variant: str) -> list[str] | None:
    """Run the interpreter under one variant of `level`; return its recipe, or None."""
    if level == IsolationLevel.LANDLOCK:
        return _probe_landlock(variant)
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
            cmd = bwrap_prefix(exe, [tmp], [], tmp, user_ns=(variant == "userns")) + argv
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
        variants = {IsolationLevel.BWRAP: ("userns", "plain"),
                    IsolationLevel.LANDLOCK: _LANDLOCK_VARIANTS}.get(level, ("full", "min"))
        found = None
        for variant in variants:
            found = _probe_variant(level, variant)
            if found is not None:
                if level == IsolationLevel.UNSHARE and variant == "min":
                    log.warning("unshare works without a pid namespace here: daemons started "
                                "by a candidate may survive it")
                if level == IsolationLevel.BWRAP and _probe_bwrap_seccomp(found):
                    found = found + ["seccomp"]
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
    for level in (IsolationLevel.BWRAP, IsolationLevel.LANDLOCK, IsolationLevel.UNSHARE):
        if probe(level):
            return level
    return IsolationLevel.NONE


def detect_isolation(isolation: str | IsolationLevel = "auto", *,
                     require: str | IsolationLevel | None = None,
                     say: Callable[[str], None] | None = None) -> IsolationLevel:
    """The level candidates will run under, said aloud once.

    `isolation`: "auto" = the strongest that works here (bwrap, landlock, unshare, none);
    a level name = exactly that level (UserError if it does not work here).
    `require`: a minimum; UserError if the chosen level is weaker (e.g. `require="bwrap"` on
    a machine without a usable bubblewrap). Config values of both are validated here too.
    `say`: where the one announcement goes instead of the logger (a run's console), so that a
    later lookup in the same process (the evaluator host's) does not print it a second time.
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
    announce(level, say)
    return level


def resolve_isolation(isolation: str | IsolationLevel = "auto") -> IsolationLevel:
    """Same as `detect_isolation(isolation)`: "auto" or exactly the named level."""
    return detect_isolation(isolation)


def _unavailable(wanted: IsolationLevel, best: IsolationLevel) -> str:
    hint = {
        IsolationLevel.BWRAP: "install bubblewrap (apt-get install bubblewrap) and make sure "
                              "user namespaces are allowed (or run as root)",
        IsolationLevel.LANDLOCK: "it needs Linux >= 5.13 with Landlock enabled (check "
                                 "/sys/kernel/security/lsm lists landlock; boot with "
                                 "lsm=...,landlock otherwise)",
        IsolationLevel.UNSHARE: "allow unprivileged user namespaces "
                                "(sysctl kernel.unprivileged_userns_clone=1)",
        IsolationLevel.NONE: "",
    }[wanted]
    if sys.platform == "darwin":
        hint = "macOS has neither namespaces nor Landlock: only 'none' applies there"
    return (f"sandbox isolation '{wanted.name.lower()}' is not available on this machine "
            f"(best available: '{best.name.lower()}'); {hint}")


def announce(level: IsolationLevel, say: Callable[[str], None] | None = None) -> None:
    """Say once per process which isolation candidates run under (through `say` if given,
    else the evoforge.sandbox logger)."""
    if level in _announced:
        return
    first = not _announced
    _announced.add(level)
    if say is not None:
        say(f"sandbox: {level.describe()}")
        return
    if level >= IsolationLevel.LANDLOCK and not (level == IsolationLevel.LANDLOCK and
                                                 guarantees.landlock_missing(_setup_or_default())):
        log.info("sandbox: %s", level.describe())
    else:
        log.warning("sandbox: %s", level.describe())
    if first:
        log.info("sandbox guarantees per level on this machine:\n%s", isolation_table())


def _setup_or_default() -> guarantees.LandlockSetup:
    return landlock_setup() or guarantees.LandlockSetup(abi=landlock.abi_version(),
                                                        namespaces="full",
                                                        seccomp=seccomp.supported())


def isolation_table() -> str:
    """What every level guarantees, as a Markdown table (landlock's column for this machine's
    kernel and namespaces when probed)."""
    return guarantees.table(landlock_setup(), bwrap_seccomp=_bwrap_has_seccomp())
