# ATTACK: double-fork a daemon (setsid, own session) that sleeps and would write to the host
#   later, then return at once: the daemon is meant to outlive the evaluation.
# EXPECT: status=ok reason="^$"
# EXPECT[none+no-cgroups]: status=ok breach=survivor -- plain level without a writable cgroup:
#   a daemon that left its process group escapes the kill (documented in isolation.py)
# LINT: exit,files
import os
import sys


def attack(ctx):
    marker = ctx.get("marker", "evoforge-redteam-daemon")
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            code = ("import time, sys; time.sleep(5); "
                    "open(sys.argv[1], 'w').write('BREACH:late-write')")
            target = ctx.get("host_tmp_file", "/tmp/evoforge-redteam-late")
            os.execv(sys.executable, [sys.executable, "-c", code, target + ".late", marker])
        os._exit(0)
    os.wait()
    return 0.5
