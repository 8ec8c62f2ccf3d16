# ATTACK: SIGKILL its whole process group, hoping to take the harness down with it.
# EXPECT: status=error reason="candidate raised ProcessLookupError: \[Errno 3\] No such process"
#   -- bwrap: the process group the candidate was started in lies outside its pid namespace
# EXPECT[unshare,none]: status=error reason="candidate process died with SIGKILL" -- only the
#   sandbox's own session dies (it was started with start_new_session): under unshare the
#   candidate, init of its namespace, ignores the signal, but the unshare wrapper in the same
#   process group does not, and takes the sandbox with it (--kill-child)
# EXPECT[landlock]: status=error reason="candidate process died with SIGKILL" -- as under
#   unshare: the unshare wrapper and the launcher (init of the namespace) share the
#   sandbox's session and die with it
# LINT: exit,signals
import os
import signal
import time


def attack(ctx):
    os.killpg(os.getpgid(0), signal.SIGKILL)
    time.sleep(0.5)
    return 0.5
