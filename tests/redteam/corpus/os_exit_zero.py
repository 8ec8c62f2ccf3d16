# ATTACK: os._exit(0) - exit 0 at once, skipping every handler, before the worker answers.
# EXPECT: status=error reason="candidate process exited with code 0 before returning from attack\(\)"
# LINT: exit
import os


def attack(ctx):
    os._exit(0)
