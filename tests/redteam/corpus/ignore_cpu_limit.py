# ATTACK: ignore SIGXCPU (the soft CPU-time limit) and keep burning CPU, hoping the limit is
#   only a polite request.
# EXPECT: status=error reason="CPU time limit"
# SETUP: cpu_seconds=1 call_timeout=6
# BUG: the hard CPU limit's SIGKILL is reported as "died with SIGKILL (killed: memory limit or
#   out of memory?)" (bwrap, none) or, under unshare, as "exited with code 1 ...: unshare:
#   sigprocmask unblock failed" (src/evoforge/sandbox/candidate.py _death_reason)
# LINT: signals
import signal


def attack(ctx):
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    while True:
        pass
