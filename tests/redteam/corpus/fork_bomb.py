# ATTACK: fork bomb - every process forks again, without end, until the machine has no
#   processes left to give.
# EXPECT: status=error reason="candidate raised BlockingIOError: \[Errno 11\] Resource temporarily unavailable"
# BUG: forked children that return from attack() also write an answer into the shared result
#   pipe, so the recorded reason is "sent a corrupt answer ... Extra data" instead of naming the
#   failed fork (src/evoforge/sandbox/_call_worker.py main(): only the worker's own pid should answer)
# SKIP[all+no-pids-cap]: no pids cgroup and running as root: nothing caps the number of processes
import os


def attack(ctx):
    while True:
        os.fork()
