"""Sandbox side of the parent-selection benchmark: a toy evolution whose parents
`Population.select_parent` picks with the candidate's default rule (evoforge.search.selection). Prints only the chosen parent ids; the trusted side replays them."""
import json
import math
import random
import sys

from evoforge.program import Attempt, AttemptStatus
from evoforge.search.population import Population

spec = json.load(sys.stdin)


def f(x):
    return math.cos(3 * x) - x * x / 10


choices = []
for seed, noise in zip(spec["seeds"], spec["noise"]):
    pop = Population(1, archive_size=spec["archive_size"], maximize=True)
    xs = {"p0": spec["x0"]}
    pop.add(Attempt(run_id="r", code="x", id="p0", status=AttemptStatus.OK, score=f(xs["p0"]), island=0,
                    generation=0))
    rng = random.Random(seed)
    picked = []
    for step, delta in enumerate(noise, start=1):
        parent = pop.select_parent(0, rng).id
        picked.append(parent)
        cid = f"p{step}"
        xs[cid] = xs[parent] + delta
        pop.add(Attempt(run_id="r", code="x", id=cid, status=AttemptStatus.OK, score=f(xs[cid]), island=0,
                        generation=step, parent_id=parent))
    choices.append(picked)
sys.stdout.write("\n@@EVOFORGE-BENCH@@" + json.dumps(choices))
