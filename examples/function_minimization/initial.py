"""Global minimisation of a bumpy 2-D function by random search."""
import math
import random


def f(x, y):
    return math.sin(x) * math.cos(y) + math.sin(x * y) + (x * x + y * y) / 20


# EVOLVE-BLOCK-START
def search(seed):
    """Plain random search over the box."""
    rng = random.Random(seed)
    best_x, best_y = rng.uniform(-5, 5), rng.uniform(-5, 5)
    best = f(best_x, best_y)
    for _ in range(20):
        x, y = rng.uniform(-5, 5), rng.uniform(-5, 5)
        value = f(x, y)
        if value < best:
            best_x, best_y, best = x, y, value
    return best_x, best_y
# EVOLVE-BLOCK-END
