# ATTACK: SIGKILL its parent process (the worker's parent: the evaluator host, or whatever
#   isolation wrapper sits in between) so that nobody is left to record the failure.
# EXPECT: status=ok reason="^$" -- under bwrap the parent is the sandbox's own init (pid 1),
#   which ignores signals from inside its namespace
# EXPECT[unshare]: status=error reason="candidate process died with SIGKILL" -- the candidate is
#   pid 1 of its namespace, its parent pid reads 0, and kill(0) kills its own process group
# EXPECT[none]: status=error reason="the evaluator process died with SIGKILL" breach=evaluator_killed
#   -- plain subprocess level: the evaluator host is an ordinary process of the same user;
#   the evaluation is still recorded and the engine goes on
# LINT: exit,signals
import os
import signal
import time


def attack(ctx):
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(0.5)
    return 0.5
