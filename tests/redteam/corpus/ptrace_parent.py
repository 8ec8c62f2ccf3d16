# ATTACK: ptrace (PTRACE_SEIZE, through ctypes) the evaluator host or the test runner: a tracer
#   can read and write the evaluator's memory - hidden data, the result it is about to send.
# EXPECT: status=error reason="candidate raised (ProcessLookupError|PermissionError): \[Errno (3|1)\]"
# EXPECT[none+ptrace_allowed]: status=ok breach=reported -- plain subprocess level: the candidate
#   may trace processes of the same user (no Yama restriction) or any process (CAP_SYS_PTRACE)
# LINT: ctypes
import ctypes
import ctypes.util
import os

PTRACE_SEIZE = 0x4206


def attack(ctx):
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    targets = [pid for pid in (ctx.get("host_pid"), os.getppid()) if pid and pid > 1]
    if not targets:  # the parent is the sandbox's own init (1) or outside the namespace (0)
        raise ProcessLookupError(3, "No such process", "no process outside the sandbox in sight")
    for pid in targets:
        if libc.ptrace(PTRACE_SEIZE, pid, None, None) != 0:
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))
        print(f"BREACH:ptrace attached to pid {pid}")  # exit detaches a seized tracee
    return 0.5
