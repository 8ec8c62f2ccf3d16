"""The search loop (frozen: no EVOLVE-BLOCK, so it stays byte-identical). It spends exactly the
queries it is given: asks the heuristic for a probe, queries it, records the answer."""
import random

from .heuristic import next_probe
from .structure import Probes


def search(query, budget, n, seed):
    rng = random.Random(seed)
    probes = Probes(n)
    for step in range(budget):
        x = next_probe(probes, rng, n, step, budget)
        x = min(max(int(x), 0), n - 1)
        if probes.seen(x):
            x = rng.randrange(n)
        probes.add(x, query(x))
    return probes.best()
