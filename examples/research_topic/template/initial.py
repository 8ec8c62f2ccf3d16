"""Baseline: spend the query budget on uniformly random points."""
import random


# EVOLVE-BLOCK-START
def search(f, budget, seed):
    rng = random.Random(seed)
    best = float("inf")
    for _ in range(budget):
        best = min(best, f(rng.uniform(-10.0, 10.0)))
    return best
# EVOLVE-BLOCK-END
