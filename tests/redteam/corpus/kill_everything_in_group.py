# ATTACK: SIGKILL its whole process group, hoping to take the harness down with it.
# EXPECT: status=error reason="candidate process died with SIGKILL"
import os
import signal


def attack(ctx):
    os.killpg(os.getpgid(0), signal.SIGKILL)
    return 0.5
