# ATTACK: fork bomb - every process forks again, without end, until the machine has no
#   processes left to give; the original process joins in once the table is full.
# EXPECT: status=error reason="candidate raised BlockingIOError: \[Errno 11\] Resource temporarily unavailable"
# SKIP[all+no-pids-cap]: no pids cgroup and running as root: nothing caps the number of processes
# LINT: files
import os
import time


def attack(ctx):
    if os.fork() == 0:
        while True:
            os.fork()
    time.sleep(0.5)
    while True:
        os.fork()
