"""Programs used across the mutate tests (importable, for hypothesis tests too)."""

PY_SINGLE = '''import math

# EVOLVE-BLOCK-START
def pack(n):
    """Return a score for n."""
    total = 0.5 * n
    step = total + 1.25  # tune me: 3
    label = "weight 7.5"
    for i in range(n):
        if i % 2 == 0:
            total += step * 0.1
            step = step - 1
        else:
            total -= 2
    return total
# EVOLVE-BLOCK-END


def main():
    return pack(26)  # 26 circles
'''

PY_MULTI = '''import random

SEED = 42

# EVOLVE-BLOCK-START
def score(x):
    y = x * 3.0
    z = y + 2
    return y - z * 0.5
# EVOLVE-BLOCK-END


def helper(v):
    return v + 1000


class Runner:
    def run(self, x):
        # EVOLVE-BLOCK-START
        a = score(x)
        b = helper(a) * 1.5
        c = a + b
        # EVOLVE-BLOCK-END
        return c
'''

CPP_MULTI = '''#include <cstdio>
// a comment with 123 outside
// EVOLVE-BLOCK-START
double gain(double x) {
    const char* s = "keep 42 here";  // and 7 here
    return x * 1.5 + 3;
}
// EVOLVE-BLOCK-END

int main() {
    /* EVOLVE-BLOCK-START */
    int n = 10;
    double t = gain(n) / 2.0;
    /* EVOLVE-BLOCK-END */
    printf("%f", t + 99);
    return 0;
}
'''

# A folder program: two files with blocks, one frozen (no block) that imports them.
BUNDLE_FILES = {
    "solver/heuristic.py": (
        "import math\n\n# EVOLVE-BLOCK-START\ndef weight(x):\n    limit = 10\n"
        "    return min(limit, x * 2.5)\n# EVOLVE-BLOCK-END\n"
    ),
    "solver/structure.py": (
        "# EVOLVE-BLOCK-START\nSIZE = 8\n\n\ndef make():\n    limit = 10\n    return [0] * min(SIZE, limit)\n"
        "# EVOLVE-BLOCK-END\n\n\ndef size():\n    return SIZE\n"
    ),
    "solver/main.py": (
        "from solver.heuristic import weight\nfrom solver.structure import make\n\n\n"
        "def solve():\n    return weight(len(make())) + 0.5\n"
    ),
}
