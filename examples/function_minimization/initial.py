"""Minimise a hidden bumpy 2-D function with a fixed number of queries."""
import random

LOW, HIGH = -5.0, 5.0  # the box: every query must stay inside it


# EVOLVE-BLOCK-START
def search(f, budget, seed):
    """Random points first, then a local search around the best point found.

    f(x, y) returns the function value; each call is one of `budget` queries.
    """
    rng = random.Random(seed)
    explore = 1      # how many queries sample random points before the local search
    step = 0.2       # size of a local step
    shrink = 1.0     # the step is multiplied by this after every local step
    best = None
    for i in range(budget):
        if i < explore or best is None:
            x, y = rng.uniform(LOW, HIGH), rng.uniform(LOW, HIGH)
        else:
            x = min(HIGH, max(LOW, best_x + rng.gauss(0, step)))
            y = min(HIGH, max(LOW, best_y + rng.gauss(0, step)))
            step = step * shrink
        value = f(x, y)
        if best is None or value < best:
            best_x, best_y, best = x, y, value
    return best_x, best_y
# EVOLVE-BLOCK-END
