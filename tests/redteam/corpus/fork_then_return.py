# ATTACK: fork once and let both processes return - the child's answer is meant to collide with
#   the parent's on the result channel (a harmless-looking way to corrupt it).
# EXPECT: status=ok reason="^$"
# BUG: the forked child returns through the worker and writes a second answer into the shared
#   result pipe: "sent a corrupt answer ... Extra data" (src/evoforge/sandbox/_call_worker.py
#   main(): write the answer only if os.getpid() is the worker's own pid, else os._exit(0))
import os


def attack(ctx):
    os.fork()
    return 0.5
