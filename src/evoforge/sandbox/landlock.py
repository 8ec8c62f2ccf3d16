"""Linux Landlock through ctypes: restrict the calling process (and all it starts) to a set of
paths, deny TCP bind/connect, scope signals and abstract unix sockets.

Why our own code: Landlock is three system calls and two structs; a dependency would be larger
than this file, and the launcher that uses it (`launch.py`) runs before anything but the
standard library may be trusted. This module therefore imports nothing but the standard
library, and is loaded by file path inside the sandbox launcher too.

Landlock is unprivileged (Linux >= 5.13) and stacks: once a process restricts itself nothing it
starts can undo it. Features arrive with ABI versions, which `abi_version()` reports; masks
are trimmed to what the running kernel knows, and `missing_features(abi)` names what an older
kernel cannot enforce so the caller can say it aloud:

    ABI 1  file system: execute, read, write, make/remove entries (5.13)
    ABI 2  REFER: rename/link across folders (always denied before, now grantable) (5.19)
    ABI 3  TRUNCATE (6.2)
    ABI 4  TCP bind/connect (6.7)
    ABI 5  ioctl on devices (6.10)
    ABI 6  scoping: signals and abstract unix sockets stay inside the sandbox (6.12)

Not restricted by Landlock at all (whatever the ABI): metadata (stat, readlink, path lookup),
already-open file descriptors, connecting to *path-based* unix sockets, UDP. The launcher
covers the last two with seccomp and the network namespace.
"""
# no `from __future__ import annotations`: importing __future__ costs ~8 ms per launch
import ctypes
import errno
import os
import stat
import struct

SYS_CREATE_RULESET = 444   # the same number on every architecture (unified table, Linux >= 5.1)
SYS_ADD_RULE = 445
SYS_RESTRICT_SELF = 446
CREATE_RULESET_VERSION = 1
RULE_PATH_BENEATH = 1

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_REMOVE_DIR = 1 << 4
FS_REMOVE_FILE = 1 << 5
FS_MAKE_CHAR = 1 << 6
FS_MAKE_DIR = 1 << 7
FS_MAKE_REG = 1 << 8
FS_MAKE_SOCK = 1 << 9
FS_MAKE_FIFO = 1 << 10
FS_MAKE_BLOCK = 1 << 11
FS_MAKE_SYM = 1 << 12
FS_REFER = 1 << 13        # ABI 2
FS_TRUNCATE = 1 << 14     # ABI 3
FS_IOCTL_DEV = 1 << 15    # ABI 5
NET_BIND_TCP = 1 << 0     # ABI 4
NET_CONNECT_TCP = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1                # ABI 6

# Rights that make sense on a file (the kernel refuses directory rights on a file rule).
FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
READ_EXEC = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
READ_ONLY = FS_READ_FILE | FS_READ_DIR
READ_WRITE_DEVICE = FS_READ_FILE | FS_WRITE_FILE | FS_IOCTL_DEV  # /dev/null and friends

# What each ABI adds, for trimming masks and for saying what an old kernel lacks.
_FS_BY_ABI = {1: (1 << 13) - 1, 2: FS_REFER, 3: FS_TRUNCATE, 5: FS_IOCTL_DEV}
FEATURES = {  # ABI -> what it enforces (the words used in the start-up line)
    2: "rename/link across folders",
    3: "truncate",
    4: "TCP bind/connect denied",
    5: "device ioctl",
    6: "signals and abstract unix sockets scoped",
}


class LandlockError(OSError):
    """Landlock is missing, disabled, or refused a rule: the sandbox must not start."""


def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


def abi_version() -> int:
    """The Landlock ABI of the running kernel; 0 when Landlock is absent or disabled."""
    if os.uname().sysname != "Linux":
        return 0
    try:
        libc = _libc()
    except OSError:
        return 0
    abi = libc.syscall(ctypes.c_long(SYS_CREATE_RULESET), None, ctypes.c_size_t(0),
                       ctypes.c_uint32(CREATE_RULESET_VERSION))
    return int(abi) if abi > 0 else 0


def handled_fs(abi: int) -> int:
    """Every file-system right the kernel at `abi` can deny (deny-by-default list)."""
    return sum(mask for level, mask in _FS_BY_ABI.items() if abi >= level)


def handled_net(abi: int) -> int:
    return NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0


def scoped(abi: int) -> int:
    return SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0


def missing_features(abi: int) -> list[str]:
    """What the kernel at `abi` cannot enforce, in words (empty for ABI >= 6)."""
    return [text for level, text in sorted(FEATURES.items()) if abi < level]


class Ruleset:
    """A Landlock ruleset being built: `allow(path, rights)` then `enforce()` (once).

    Everything not allowed among the handled rights is denied; handled = all the kernel knows.
    """

    def __init__(self, abi: int | None = None) -> None:
        self.abi = abi_version() if abi is None else abi
        if self.abi < 1:
            raise LandlockError(errno.EOPNOTSUPP, "Landlock is not supported or is disabled "
                                "by this kernel (needs Linux >= 5.13 with lsm=landlock)")
        self._libc = _libc()
        self.fs = handled_fs(self.abi)
        self.net = handled_net(self.abi)
        self.scope = scoped(self.abi)
        if self.abi >= 6:
            attr = struct.pack("=QQQ", self.fs, self.net, self.scope)
        elif self.abi >= 4:
            attr = struct.pack("=QQ", self.fs, self.net)
        else:
            attr = struct.pack("=Q", self.fs)
        buf = ctypes.create_string_buffer(attr, len(attr))
        fd = self._libc.syscall(ctypes.c_long(SYS_CREATE_RULESET), buf,
                                ctypes.c_size_t(len(attr)), ctypes.c_uint32(0))
        if fd < 0:
            err = ctypes.get_errno()
            raise LandlockError(err, f"landlock_create_ruleset: {os.strerror(err)}")
        self.fd = int(fd)

    def allow(self, path: str, rights: int) -> bool:
        """Allow `rights` on `path` and everything beneath it; False when `path` is missing.

        Rights are trimmed to the kernel's ABI, and to file rights when `path` is not a folder.
        """
        try:
            target = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except FileNotFoundError:
            return False
        try:
            rights &= self.fs
            if not stat.S_ISDIR(os.fstat(target).st_mode):
                rights &= FILE_RIGHTS
            if not rights:
                return True
            attr = ctypes.create_string_buffer(struct.pack("=Qi", rights, target), 12)
            rc = self._libc.syscall(ctypes.c_long(SYS_ADD_RULE), ctypes.c_int(self.fd),
                                    ctypes.c_int(RULE_PATH_BENEATH), attr, ctypes.c_uint32(0))
            if rc < 0:
                err = ctypes.get_errno()
                raise LandlockError(err, f"landlock_add_rule({path!r}): {os.strerror(err)}")
        finally:
            os.close(target)
        return True

    def enforce(self) -> None:
        """Restrict this process (and every future child) for good; sets no_new_privs first,
        which Landlock requires of a process without CAP_SYS_ADMIN."""
        set_no_new_privs(self._libc)
        rc = self._libc.syscall(ctypes.c_long(SYS_RESTRICT_SELF), ctypes.c_int(self.fd),
                                ctypes.c_uint32(0))
        if rc < 0:
            err = ctypes.get_errno()
            raise LandlockError(err, f"landlock_restrict_self: {os.strerror(err)}")
        os.close(self.fd)


PR_SET_NO_NEW_PRIVS = 38


def set_no_new_privs(libc: ctypes.CDLL | None = None) -> None:
    """No exec may ever gain privileges again (setuid bits, file capabilities): required by
    Landlock and seccomp for unprivileged use, and inherited by every child."""
    libc = libc or _libc()
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise LandlockError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {os.strerror(err)}")
