# ATTACK: stop itself with SIGSTOP: a stopped process is not "exited", so a parent waiting for
#   an exit status would wait forever.
# EXPECT: status=timeout reason="candidate timed out after 1\.0s in attack\(\)"
# EXPECT[unshare]: status=ok reason="^$" -- under unshare the candidate is the init of its pid
#   namespace, which ignores a SIGSTOP it sends itself; it just carries on (still contained)
# SETUP: call_timeout=1
# LINT: exit,signals
import os
import signal


def attack(ctx):
    os.kill(os.getpid(), signal.SIGSTOP)
    return 0.5
