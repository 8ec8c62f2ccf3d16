"""Minimise a hidden bumpy 2-D function with a fixed number of queries."""
import random


# EVOLVE-BLOCK-START
def search(f, budget, seed):
    """Sample a few random points, then a local search around the best one.

    f(x, y) returns the function value (each call uses one of `budget` queries); x and y must
    stay in [-5, 5].
    """
    rng = random.Random(seed)
    explore = 1      # random points before the local search
    step = 3.0       # size of a local step
    shrink = 1.0     # the step is multiplied by this after every query
    best = None
    for _ in range(explore):
        x, y = rng.uniform(-5, 5), rng.uniform(-5, 5)
        value = f(x, y)
        if best is None or value < best:
            best_x, best_y, best = x, y, value
    for _ in range(budget - explore):
        x = min(5.0, max(-5.0, best_x + rng.gauss(0, step)))
        y = min(5.0, max(-5.0, best_y + rng.gauss(0, step)))
        value = f(x, y)
        if value < best:
            best_x, best_y, best = x, y, value
        step = step * shrink
    return best_x, best_y
# EVOLVE-BLOCK-END
