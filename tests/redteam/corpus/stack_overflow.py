# ATTACK: lift the recursion limit and recurse until the C stack overflows (a segfault).
# EXPECT: status=error reason="candidate process died with SIGSEGV \(segmentation fault\) in attack\(\)"
import sys


def dive(n):
    return dive(n + 1) + 1


def attack(ctx):
    sys.setrecursionlimit(10**8)
    return dive(0)
