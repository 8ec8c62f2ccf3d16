# ATTACK: raise KeyboardInterrupt, which `except Exception` does not catch, hoping to abort
#   the harness itself.
# EXPECT: status=error reason="candidate raised KeyboardInterrupt"
# LINT: exit
def attack(ctx):
    raise KeyboardInterrupt
