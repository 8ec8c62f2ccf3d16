# ATTACK: open file descriptors until none are left (the harness shares the machine).
# EXPECT: status=error reason="candidate raised OSError: \[Errno 24\] Too many open files"
# LINT: files
import os


def attack(ctx):
    held = []
    while True:
        held.append(os.open(os.devnull, os.O_RDONLY))
