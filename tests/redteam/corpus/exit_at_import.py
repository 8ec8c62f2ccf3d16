# ATTACK: exit with status 0 while the program is imported, before any function is called.
# EXPECT: status=error reason="candidate program failed to load: SystemExit: sys\.exit\(0\)"
# LINT: exit
import sys

sys.exit(0)


def attack(ctx):
    return 1.0
