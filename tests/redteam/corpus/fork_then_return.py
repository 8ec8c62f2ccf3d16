# ATTACK: fork once and let both processes return (the parent after its child): the child's
#   answer collides with the parent's on the result channel - a harmless-looking way to
#   corrupt it, and what naive fork-based parallel code does by accident.
# EXPECT: status=ok reason="^$"
# LINT: files
import os


def attack(ctx):
    child = os.fork()
    if child:
        os.waitpid(child, 0)
    return 0.5
