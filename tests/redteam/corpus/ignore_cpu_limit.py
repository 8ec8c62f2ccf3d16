# ATTACK: ignore SIGXCPU (the soft CPU-time limit) and keep burning CPU, hoping the limit is
#   only a polite request.
# EXPECT: status=error reason="CPU time limit"
# SETUP: cpu_seconds=1 call_timeout=120
# LINT: signals
import signal


def attack(ctx):
    signal.signal(signal.SIGXCPU, signal.SIG_IGN)
    while True:
        pass
