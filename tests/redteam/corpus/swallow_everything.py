# ATTACK: catch every exception - KeyboardInterrupt, SystemExit, the CPU-limit exception the
#   worker raises on SIGXCPU - and keep going, hoping nothing can stop it.
# EXPECT: status=timeout reason="candidate timed out after 1\.0s in attack\(\)" -- the wall clock is
#   measured and enforced from outside with SIGKILL, which no handler can catch
# SETUP: call_timeout=1
# LINT: catch_all,signals
import signal


def attack(ctx):
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGXCPU):
        signal.signal(sig, signal.SIG_IGN)
    while True:
        try:
            while True:
                pass
        except BaseException:  # noqa: BLE001, S112 - the attack
            continue
