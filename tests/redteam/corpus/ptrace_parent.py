# ATTACK: ptrace (PTRACE_SEIZE, through ctypes) the evaluator host or the test runner: a tracer
#   can read and write the evaluator's memory - hidden data, the result it is about to send.
# EXPECT: status=error reason="candidate raised (ProcessLookupError|PermissionError): \[Errno (3|1)\]"
# EXPECT[none+cap_sys_ptrace]: status=ok breach=reported -- plain subprocess level as root with
#   CAP_SYS_PTRACE: the candidate can trace any process (documented: no isolation)
import ctypes
import ctypes.util
import os

PTRACE_SEIZE = 0x4206


def attack(ctx):
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    targets = [ctx.get("host_pid", 1)]
    if os.getppid() > 1:
        targets.append(os.getppid())
    for pid in targets:
        if libc.ptrace(PTRACE_SEIZE, pid, None, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        print(f"BREACH:ptrace attached to pid {pid}")  # exit detaches a seized tracee
    return 0.5
