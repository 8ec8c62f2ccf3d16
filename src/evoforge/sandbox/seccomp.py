"""A small seccomp-BPF filter against the classic sandbox escapes, built and installed through
ctypes (no libseccomp dependency).

Why: Landlock confines paths and TCP, namespaces hide processes and the network, but the kernel
interfaces most often used to break out of a sandbox (or into the evaluator's memory) are plain
system calls: ptrace, process_vm_readv/writev, pidfd_getfd, mount and friends, keyctl, bpf,
perf_event_open, userfaultfd, io_uring (which runs operations outside seccomp's sight),
open_by_handle_at (the classic container escape), kernel modules and kexec. They return EPERM
here; no candidate has a reason to call them.

The filter checks the architecture first (a 32-bit or x32 system call on x86_64 would use other
numbers: the process is killed / refused), then the system-call number, then, for socket(2),
the address family: path-based unix sockets are not covered by Landlock, so `socket(AF_UNIX)`
is refused (socketpair(2) stays allowed), and when there is no network namespace
AF_INET/AF_INET6 are refused too (Landlock only covers TCP).

Only the standard library: the sandbox launcher (`launch.py`) loads this file by path.
"""
# no `from __future__ import annotations`: importing __future__ costs ~8 ms per launch
import ctypes
import errno
import os
import struct

AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
X32_SYSCALL_BIT = 0x40000000

# name -> (x86_64, aarch64) from <asm/unistd_64.h> and <asm-generic/unistd.h>
_NUMBERS: dict[str, tuple[int, int]] = {
    "ptrace": (101, 117), "process_vm_readv": (310, 270), "process_vm_writev": (311, 271),
    "pidfd_getfd": (438, 438), "process_madvise": (440, 440), "kcmp": (312, 272),
    "mount": (165, 40), "umount2": (166, 39), "pivot_root": (155, 41),
    "fsopen": (430, 430), "fsconfig": (431, 431), "fsmount": (432, 432),
    "move_mount": (429, 429), "open_tree": (428, 428), "fspick": (433, 433),
    "mount_setattr": (442, 442), "setns": (308, 268),
    "keyctl": (250, 219), "add_key": (248, 217), "request_key": (249, 218),
    "bpf": (321, 280), "perf_event_open": (298, 241), "userfaultfd": (323, 282),
    "io_uring_setup": (425, 425), "io_uring_enter": (426, 426), "io_uring_register": (427, 427),
    "open_by_handle_at": (304, 265), "name_to_handle_at": (303, 264),
    "kexec_load": (246, 104), "kexec_file_load": (320, 294), "init_module": (175, 105),
    "finit_module": (313, 273), "delete_module": (176, 106), "swapon": (167, 224),
    "swapoff": (168, 225), "reboot": (169, 142), "acct": (163, 89), "quotactl": (179, 60),
}
_SOCKET = (41, 198)
DENIED = tuple(_NUMBERS)
AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10

# BPF opcodes and seccomp return values (<linux/filter.h>, <linux/seccomp.h>)
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16   # struct seccomp_data (little-endian arg low word)

PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class SeccompError(OSError):
    """The filter could not be built for this machine or was refused by the kernel."""


def machine() -> str:
    name = os.uname().machine.lower()   # not platform.machine(): its imports cost ~10 ms
    return {"arm64": "aarch64", "amd64": "x86_64"}.get(name, name)


def supported(arch: str | None = None) -> bool:
    """Whether a filter can be built for `arch` (default: this machine, when it runs Linux)."""
    if arch is None and os.uname().sysname != "Linux":
        return False
    return (arch or machine()) in AUDIT_ARCH


def syscall_number(name: str, arch: str | None = None) -> int:
    arch = arch or machine()
    return _NUMBERS[name][0 if arch == "x86_64" else 1]


def build_filter(arch: str | None = None, *, denied: tuple[str, ...] | list[str] = DENIED,
                 deny_families: tuple[int, ...] | list[int] = (AF_UNIX,)) -> bytes:
    """The BPF program (struct sock_filter[]) as bytes.

    Layout: check arch (else kill), [x86_64: refuse x32 numbers], one JEQ per denied call
    (jump to EPERM), socket(2) -> check the family, else allow.
    """
    arch = arch or machine()
    if arch not in AUDIT_ARCH:
        raise SeccompError(errno.ENOSYS, f"no seccomp filter for architecture {arch!r}")
    numbers = sorted({syscall_number(name, arch) for name in denied})
    socket_nr = _SOCKET[0 if arch == "x86_64" else 1]
    prog: list[tuple[int, int | str, int | str, int]] = []  # (code, jt, jf, k), labels as str
    prog.append((_LD_W_ABS, 0, 0, _OFF_ARCH))
    prog.append((_JEQ_K, 0, "kill", AUDIT_ARCH[arch]))
    prog.append((_LD_W_ABS, 0, 0, _OFF_NR))
    if arch == "x86_64":
        prog.append((_JGE_K, "deny", 0, X32_SYSCALL_BIT))
    for nr in numbers:
        prog.append((_JEQ_K, "deny", 0, nr))
    if deny_families:
        prog.append((_JEQ_K, 0, "allow", socket_nr))
        prog.append((_LD_W_ABS, 0, 0, _OFF_ARG0))
        for family in deny_families:
            prog.append((_JEQ_K, "deny", 0, family))
    labels = {"allow": len(prog), "deny": len(prog) + 1, "kill": len(prog) + 2}
    prog += [(_RET_K, 0, 0, RET_ALLOW), (_RET_K, 0, 0, RET_ERRNO | errno.EPERM),
             (_RET_K, 0, 0, RET_KILL_PROCESS)]
    out = bytearray()
    for index, (code, jt, jf, k) in enumerate(prog):
        jumps = []
        for target in (jt, jf):
            offset = labels[target] - index - 1 if isinstance(target, str) else target
            if not 0 <= offset <= 255:
                raise SeccompError(errno.E2BIG, "seccomp filter too long for a BPF jump")
            jumps.append(offset)
        out += struct.pack("=HBBI", code, jumps[0], jumps[1], k)
    return bytes(out)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(program: bytes) -> None:
    """Install `program` for this thread and every future child (no_new_privs must be set,
    as `landlock.set_no_new_privs` does; seccomp refuses otherwise without CAP_SYS_ADMIN)."""
    libc = ctypes.CDLL(None, use_errno=True)
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        err = ctypes.get_errno()
        raise SeccompError(err, f"prctl(PR_SET_SECCOMP): {os.strerror(err)}")
