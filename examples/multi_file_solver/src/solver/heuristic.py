"""Where to probe next."""

# EVOLVE-BLOCK-START
EXPLORE = 0.9      # probability of a uniformly random probe (1.0: pure random search)
STEP = 0.05        # refinement step, as a fraction of n, around the best probe so far
SHRINK = 0.9       # the step shrinks by this factor every query


def next_probe(probes, rng, n, step, budget):
    best = probes.best()
    if best is None or rng.random() < EXPLORE:
        return rng.randrange(n)
    width = max(1, int(n * STEP * SHRINK ** step))
    return best[0] + rng.randint(-width, width)
# EVOLVE-BLOCK-END
