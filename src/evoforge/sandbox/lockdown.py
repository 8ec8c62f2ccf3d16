"""The trusted launcher of the `landlock` isolation level: lock this process down, then exec the
candidate's command. Started as ``python -I -S launch.py [options] -- argv...`` (inside
``unshare`` when user namespaces work); `launch.py` loads this file and calls `main`.

Options (repeatable):
    --rx PATH      read and execute PATH and beneath (interpreter, system libraries, runtime)
    --r PATH       read only (/proc)
    --rw PATH      every right (the candidate's work dir: read, write, create, execute)
    --dev PATH     read and write one file (/dev/null, /dev/zero ...)
    --abi N        use Landlock ABI N at most (what the engine announced; tests of older ABIs)
    --shm BYTES    mount a private tmpfs of BYTES on /dev/shm first (needs a mount namespace)
    --ro-root      make every mount read-only, then the --rw folders writable again (needs a
                   mount namespace): Landlock does not govern chmod, chown, utime or xattrs,
                   and the candidate may own the host's files (uid 0 when evoforge runs as root)
    --tmpdir PATH  set TMPDIR: /tmp is not writable at this level
    --deny-family N   socket(2) refuses address family N (seccomp)
    --no-seccomp   Landlock only
    --status       print what holds (one JSON line on stdout) instead of exec'ing

Order matters: mounting is impossible once Landlock is enforced, dropping capabilities last
keeps the rights needed to install the rest. As pid 1 of a new pid namespace (under
``unshare --pid --fork``) the launcher stays as the namespace's init: it forks the command,
reaps orphans, and exits with the command's status (128 + N for a signal, as bwrap does), so
the command is an ordinary process (pid 1 ignores default-action signals) and unshare never
has to re-raise a SIGKILL (which it reports as "sigprocmask unblock failed"). Any failure stops the launch (exit 125): a
sandbox that half-started must not run candidate code.

Standard library only; `launch.py` hands it its two helpers (landlock.py, seccomp.py), so it
needs nothing of evoforge beyond four files of this folder, read before the sandbox closes.
"""
import ctypes
import os
import sys

EXIT_SETUP_FAILED = 125
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_NOATIME, MS_NODIRATIME, MS_STRICTATIME = 32, 4096, 1024, 2048, 1 << 24
ST_RELATIME = 4096


class _Options:
    def __init__(self) -> None:
        self.rx: list[str] = []
        self.r: list[str] = []
        self.rw: list[str] = []
        self.dev: list[str] = []
        self.shm = 0
        self.ro_root = False
        self.abi = 0
        self.tmpdir = ""
        self.families: list[int] = []
        self.seccomp = True
        self.status = False
        self.argv: list[str] = []


def parse(args: list[str]) -> _Options:
    opts = _Options()
    lists = {"--rx": opts.rx, "--r": opts.r, "--rw": opts.rw, "--dev": opts.dev}
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            opts.argv = args[i + 1:]
            break
        if arg in ("--no-seccomp", "--status", "--ro-root"):
            opts.seccomp = opts.seccomp and arg != "--no-seccomp"
            opts.status = opts.status or arg == "--status"
            opts.ro_root = opts.ro_root or arg == "--ro-root"
            i += 1
            continue
        if i + 1 >= len(args):
            raise ValueError(f"{arg} needs a value")
        value = args[i + 1]
        if arg in lists:
            lists[arg].append(value)
        elif arg == "--abi":
            opts.abi = int(value)
        elif arg == "--shm":
            opts.shm = int(value)
        elif arg == "--tmpdir":
            opts.tmpdir = value
        elif arg == "--deny-family":
            opts.families.append(int(value))
        else:
            raise ValueError(f"unknown option {arg!r}")
        i += 2
    if not opts.argv and not opts.status:
        raise ValueError("no command after --")
    return opts


def _mount_shm(libc: ctypes.CDLL, size: int) -> None:
    data = f"size={size},mode=1777".encode()
    if libc.mount(b"tmpfs", b"/dev/shm", b"tmpfs", MS_NOSUID | MS_NODEV, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mount tmpfs on /dev/shm: {os.strerror(err)}")


def _unescape(field: bytes) -> bytes:
    """A mountinfo path: the kernel writes space, tab, newline and backslash as \\ooo."""
    out, i = bytearray(), 0
    while i < len(field):
        if field[i:i + 1] == b"\\" and field[i + 1:i + 4].isdigit():
            out.append(int(field[i + 1:i + 4], 8))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return bytes(out)


def remount_flags(path: "str | bytes") -> int:
    """The mount flags a remount of `path` must keep (a locked mount refuses to lose any)."""
    got = os.statvfs(path).f_flag
    flags = got & (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_NOATIME | MS_NODIRATIME)  # ST_ == MS_
    if not got & (ST_RELATIME | MS_NOATIME):
        flags |= MS_STRICTATIME
    return flags


def read_only_root(libc: ctypes.CDLL, writable: list[str]) -> None:
    """Every mount of this (private) mount namespace read-only, then each of `writable` a
    writable bind of itself. Writing to a device node stays possible on a read-only mount;
    changing its mode, owner or times does not."""
    with open("/proc/self/mountinfo", "rb") as fh:   # bytes: a mount point may be any name
        points = [_unescape(line.split()[4]) for line in fh if len(line.split()) > 4]
    for point in points:
        try:
            flags = remount_flags(point)
        except OSError:
            continue   # covered by a later mount, or gone: nothing reachable to protect
        if libc.mount(b"none", point, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags, None) != 0:
            err = ctypes.get_errno()
            # ENOENT, ENOTDIR, or EINVAL where the path is no mount point any more: the mount
            # is hidden under another one, out of reach
            if err in (2, 20) or (err == 22 and not os.path.ismount(point)):
                continue
            raise OSError(err, f"remount {point!r} read-only: {os.strerror(err)}")
    cwd = os.getcwd()
    for path in writable:
        for flags, what in ((MS_BIND, "bind"),
                            (MS_REMOUNT | MS_BIND | remount_flags(path), "make writable")):
            if libc.mount(path.encode(), path.encode(), None, flags, None) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"{what} {path}: {os.strerror(err)}")
    os.chdir(cwd)   # the work dir as now mounted (the old cwd is on the read-only mount)


def drop_capabilities(libc: ctypes.CDLL) -> None:
    """No capability survives the exec: empty bounding and ambient sets, then none held.

    Root of a user namespace (unshare --map-root-user) would otherwise regain every capability
    of that namespace on exec."""
    for cap in range(64):
        if libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            if err == 22:  # EINVAL: past the last capability of this kernel
                break
            if err != 1:  # EPERM: no CAP_SETPCAP, so nothing to drop (unprivileged user)
                raise OSError(err, f"prctl(PR_CAPBSET_DROP): {os.strerror(err)}")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)   # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset: {os.strerror(err)}")


def lock_down(opts: _Options, landlock: object, seccomp: object) -> dict[str, object]:
    """Apply everything to this process; return what holds (for --status and the probe).
    `landlock` and `seccomp` are the helper modules (loaded while still readable)."""
    libc = ctypes.CDLL(None, use_errno=True)
    rw = list(opts.rw)
    if opts.ro_root:
        read_only_root(libc, rw)
    if opts.shm:
        _mount_shm(libc, opts.shm)
        rw.append("/dev/shm")   # private now: only this sandbox sees it
    abi = landlock.abi_version()
    ruleset = landlock.Ruleset(min(abi, opts.abi) if opts.abi else abi)
    for paths, rights in ((opts.rx, landlock.READ_EXEC), (opts.r, landlock.READ_ONLY),
                          (opts.dev, landlock.READ_WRITE_DEVICE), (rw, ruleset.fs)):
        for path in paths:
            ruleset.allow(path, rights)
    ruleset.enforce()   # sets no_new_privs first
    held: dict[str, object] = {"landlock_abi": ruleset.abi, "net": bool(ruleset.net),
                               "scoped": bool(ruleset.scope), "seccomp": False}
    if opts.seccomp and seccomp.supported():
        seccomp.install(seccomp.build_filter(deny_families=opts.families))
        held["seccomp"] = True
    drop_capabilities(libc)
    return held


def main(args: list[str], landlock: object, seccomp: object) -> None:
    try:
        opts = parse(args)
        held = lock_down(opts, landlock, seccomp)
    except (OSError, ValueError) as exc:
        print(f"evoforge sandbox launcher: {exc}", file=sys.stderr, flush=True)
        os._exit(EXIT_SETUP_FAILED)
    if opts.status:  # JSON by hand: the standard library may not be readable any more
        fields = (f'"{k}": {str(v).lower() if isinstance(v, bool) else v}'
                  for k, v in held.items())
        print("{" + ", ".join(fields) + "}", flush=True)
        os._exit(0)
    env = dict(os.environ)
    if opts.tmpdir:
        env["TMPDIR"] = opts.tmpdir
    if os.getpid() == 1:
        child = os.fork()
        if child:
            init_loop(child)
    try:
        os.execvpe(opts.argv[0], opts.argv, env)
    except OSError as exc:
        print(f"evoforge sandbox launcher: cannot run {opts.argv[0]!r}: {exc.strerror}",
              file=sys.stderr, flush=True)
        os._exit(127 if isinstance(exc, FileNotFoundError) else 126)


def init_loop(child: int) -> None:
    """Reap every process of the namespace until `child` ends; exit with its status. When
    pid 1 exits the kernel kills whatever is left in the namespace."""
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.dup2(null, 1)
    os.closerange(3, 1 << 16)   # the result pipe and the rest belong to the command alone
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            os._exit(1)
        except InterruptedError:  # pragma: no cover - PEP 475 retries already
            continue
        if pid == child:
            code = os.waitstatus_to_exitcode(status)
            os._exit(128 - code if code < 0 else code)
