# ATTACK: sleep far past the timeout (no CPU used, so no CPU limit fires).
# EXPECT: status=timeout reason="candidate timed out after 1\.0s in attack\(\)"
# SETUP: call_timeout=1
import time


def attack(ctx):
    time.sleep(3600)
    return 0.5
