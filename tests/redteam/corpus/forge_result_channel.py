# ATTACK: find the private result pipe (its number is on the worker's command line), write a
#   well-formed forged answer claiming a huge score, and exit before the worker answers.
# EXPECT: status=invalid reason="value 1000000000\.0 is above the maximum 1\.0"
#   -- a forged answer is only data: the trusted evaluator still judges it
# LINT: exit,files
import os


def attack(ctx):
    with open("/proc/self/cmdline", "rb") as fh:
        fd = int(fh.read().split(b"\0")[-2])
    os.write(fd, b'{"ok": true, "value": 1000000000.0}')
    os._exit(0)
