# ATTACK: hold memory in many processes, each under the per-process limit (RLIMIT_AS), so that
#   together they hold several times memory_mb.
# EXPECT: status=error reason="memory limit exceeded \(the candidate's processes together needed more than memory_mb=256 MiB"
# EXPECT[all+no-memory-cgroup]: status=ok reason="" -- without a writable memory cgroup
#   memory_mb is RLIMIT_AS, a limit per process (documented in limits.py)
# SETUP: call_timeout=120
# CHECK: max_seconds=60
# LINT: files
import os
import time


def attack(ctx):
    r, w = os.pipe()
    for _ in range(6):
        if os.fork() == 0:
            block = bytearray(160 << 20)
            block[::4096] = b"\1" * len(block[::4096])
            os.write(w, b"+")
            time.sleep(3)
            os._exit(0)
    held = 0
    while held < 6:
        held += len(os.read(r, 6))
    return 0.5
