# ATTACK: hang while the program is being imported, before attack() even exists.
# EXPECT: status=timeout reason="candidate timed out after 1\.0s in attack\(\)"
# SETUP: call_timeout=1
import time

time.sleep(3600)


def attack(ctx):
    return 0.5
