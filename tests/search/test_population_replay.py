"""Replaying stored attempts into the population (what restore does) skips a newcomer that would
be trimmed at once without searching the archive: the result must be exactly that of the full
insert-then-trim path."""
from __future__ import annotations

import random

from evoforge.program import Attempt, AttemptStatus
from evoforge.search.population import Population


def _attempts(n, seed=0):
    rng = random.Random(seed)
    ids: list[str] = []
    out = []
    for i in range(n):
        ok = rng.random() < 0.85
        a = Attempt(run_id="r", code=None, status=AttemptStatus.OK if ok else AttemptStatus.ERROR,
                    score=round(rng.uniform(0, 100), 1) if ok else None, island=i % 3, generation=rng.randint(0, 5),
                    parent_id=rng.choice(ids) if ids else None, proposal_index=i)
        ids.append(a.id)
        out.append(a)
    return out


def _state(pop):
    return [(sorted((m.id, m.fitness, m.children) for m in isl.members.values()), isl.best_fitness,
             isl.proposals_since_improvement) for isl in pop.islands]


def test_fast_replay_equals_full_insert_and_trim():
    for maximize in (True, False):
        fast, full = Population(3, archive_size=7, maximize=maximize), Population(3, archive_size=7, maximize=maximize)
        skipped = 0
        for a in _attempts(3000):
            before = sum(len(i.members) for i in fast.islands)
            floors = [i.floor for i in fast.islands]
            fast.add(a)
            skipped += floors[a.island % 3] is not None and before == sum(len(i.members) for i in fast.islands) \
                and a.id not in fast.islands[a.island % 3].members
            full.add(a)
            for isl in full.islands:
                isl.floor = None   # the reference never skips
        assert _state(fast) == _state(full)
        assert skipped > 1000   # the shortcut is what almost every replayed attempt takes
