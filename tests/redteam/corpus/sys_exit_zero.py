# ATTACK: exit with status 0 before answering (sys.exit(0)): "it exited cleanly, so it passed".
# EXPECT: status=error reason="candidate raised SystemExit: sys\.exit\(0\)"
# LINT: exit
import sys


def attack(ctx):
    sys.exit(0)
