# ATTACK: lift the recursion limit and make C code recurse (repr of a list nested 200,000
#   deep) until the C stack overflows: a segfault instead of a Python exception.
# EXPECT: status=error reason="candidate process died with SIGSEGV \(segmentation fault\) in attack\(\)"
import sys


def attack(ctx):
    nested = []
    for _ in range(200_000):
        nested = [nested]
    sys.setrecursionlimit(10**8)
    return len(repr(nested))
