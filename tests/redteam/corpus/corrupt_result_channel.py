# ATTACK: corrupt the channels: close stdout and stderr, and point the private result pipe at
#   /dev/null so the worker's honest answer goes nowhere - hoping "no answer" reads as success.
# EXPECT: status=error reason="candidate process exited with code 0 before returning from attack\(\)"
# LINT: files
import os


def attack(ctx):
    with open("/proc/self/cmdline", "rb") as fh:
        fd = int(fh.read().split(b"\0")[-2])
    null = os.open(os.devnull, os.O_WRONLY)
    os.dup2(null, fd)
    os.close(1)
    os.close(2)
    return 0.5
