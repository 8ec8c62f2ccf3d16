# ATTACK: fork once and let both processes return (the parent after its child): the child's
#   answer collides with the parent's on the result channel - a harmless-looking way to
#   corrupt it, and what naive fork-based parallel code does by accident.
# EXPECT: status=ok reason="^$"
# BUG: the forked child returns through the worker and writes a second answer into the shared
#   result pipe: "sent a corrupt answer ... Extra data" (src/evoforge/sandbox/_call_worker.py
#   main(): write the answer only if os.getpid() is the worker's own pid, else os._exit(0))
# LINT: files
import os


def attack(ctx):
    child = os.fork()
    if child:
        os.waitpid(child, 0)
    return 0.5
