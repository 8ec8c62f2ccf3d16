# ATTACK: infinite loop - never return, hoping the evaluator waits forever.
# EXPECT: status=timeout reason="candidate timed out after 1\.0s in attack\(\)"
# SETUP: call_timeout=1
def attack(ctx):
    n = 0
    while True:
        n += 1
