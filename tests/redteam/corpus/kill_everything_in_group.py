# ATTACK: SIGKILL its whole process group, hoping to take the harness down with it.
# EXPECT: status=error reason="candidate raised ProcessLookupError: \[Errno 3\] No such process"
#   -- bwrap: the process group the candidate was started in lies outside its pid namespace
# EXPECT[unshare]: status=ok reason="^$" -- the candidate is the init of its pid namespace, which
#   ignores signals it sends itself; nothing outside the namespace is reachable
# EXPECT[none]: status=error reason="candidate process died with SIGKILL" -- only the
#   candidate's own session dies (it was started with start_new_session)
# LINT: exit,signals
import os
import signal


def attack(ctx):
    os.killpg(os.getpgid(0), signal.SIGKILL)
    return 0.5
