"""Battles: several rounds between warriors, positions, results and scores.

A battle is what a Core War hill reports: rounds with fresh cores, the second warrior at a
new position each round, the first mover rotating, P-space kept between rounds. Two-warrior
positions come from pMARS's own generator, so ``battle(..., first_position=F)`` plays the
same rounds as ``pmars -r N -F F`` (the differential tests rely on this).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from evoforge.arenas.mars import (
    DEFAULT_CONFIG,
    MarsConfig,
    RoundResult,
    Simulation,
    pmars_rng,
)
from evoforge.arenas.redcode import Warrior


@dataclass
class BattleResult:
    """All rounds of one battle; per-warrior wins, ties and losses are counted from them."""

    names: list[str]
    rounds: list[RoundResult]

    def wins(self, w: int) -> int:
        return sum(1 for r in self.rounds if r.winner == w)

    def ties(self, w: int) -> int:
        return sum(1 for r in self.rounds if w in r.survivors and r.winner is None)

    def losses(self, w: int) -> int:
        return sum(1 for r in self.rounds if w not in r.survivors)

    def score(self, w: int) -> float:
        """Hill score in [0, 1]: (3 per win + 1 per tie) / (3 per round)."""
        return (3 * self.wins(w) + self.ties(w)) / (3 * max(1, len(self.rounds)))

    def behaviour(self, w: int) -> dict[str, float]:
        """Mean behaviour of warrior `w` over the rounds (MAP-Elites descriptors)."""
        n = max(1, len(self.rounds))
        return {
            "spawned": sum(r.stats[w].spawned for r in self.rounds) / n,
            "max_processes": sum(r.stats[w].max_processes for r in self.rounds) / n,
            "coverage": sum(r.stats[w].coverage for r in self.rounds) / n,
        }

    def summary(self, w: int = 0) -> dict[str, float]:
        return {"wins": self.wins(w), "ties": self.ties(w), "losses": self.losses(w),
                "rounds": len(self.rounds), "score": self.score(w), **self.behaviour(w)}


def _positions_two(config: MarsConfig, rounds: int, seed: int,
                   first_position: int | None) -> list[int]:
    m, sep = config.coresize, config.min_separation
    count = m + 1 - 2 * sep
    if count <= 0:
        raise ValueError(f"core {m} too small for two warriors {sep} apart")
    if first_position is not None:
        if not sep <= first_position <= m - sep:
            raise ValueError(f"first_position must be in [{sep}, {m - sep}], "
                             f"got {first_position}")
        state = first_position - sep
    else:
        state = random.Random(seed).randrange(1, 2**31 - 1)
    out = []
    for _ in range(rounds):
        out.append(sep + state % count)
        state = pmars_rng(state)
    return out


def _positions_many(config: MarsConfig, n: int, rng: random.Random) -> list[int]:
    """Warrior 0 at 0, the others at random with at least `min_separation` between any two
    starts (around the ring); retried, then laid out evenly when the core is crowded."""
    m, sep = config.coresize, config.min_separation
    if n * sep > m:
        raise ValueError(f"core {m} too small for {n} warriors {sep} apart")
    for _ in range(1000):
        pos = sorted([0] + [rng.randrange(sep, m - sep + 1) for _ in range(n - 1)])
        gaps = [(pos[(k + 1) % n] - pos[k]) % m for k in range(n)]
        if all(g >= sep for g in gaps):
            rest = pos[1:]
            rng.shuffle(rest)
            return [0] + rest
    return [k * (m // n) for k in range(n)]


def battle(warriors: Sequence[Warrior], *, rounds: int = 1, config: MarsConfig = DEFAULT_CONFIG,
           seed: int = 0, first_position: int | None = None,
           stats_every: int = 0) -> BattleResult:
    """Fight `rounds` rounds. `first_position` (two warriors only) places warrior 1 as
    ``pmars -F`` does; otherwise positions are drawn from `seed` (deterministic).
    `stats_every` > 0 samples processes and coverage every that many cycles."""
    if not warriors:
        raise ValueError("a battle needs at least one warrior")
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    for w in warriors:
        if not 0 < len(w) <= config.max_length:
            raise ValueError(f"warrior {w.name!r} has {len(w)} instructions "
                             f"(1..{config.max_length} allowed)")
    n = len(warriors)
    psize = config.pspace()
    pspaces = [[0] * psize for _ in range(n)]
    last = [config.coresize - 1] * n
    rng = random.Random(seed)
    two = _positions_two(config, rounds, seed, first_position) if n == 2 else []
    results = []
    for r in range(rounds):
        if n == 1:
            positions = [0]
        elif n == 2:
            positions = [0, two[r]]
        else:
            positions = _positions_many(config, n, rng)
        sim = Simulation(warriors, positions, config=config, starter=r % n, pspaces=pspaces,
                         last_results=last, stats_every=stats_every)
        sim.run()
        res = sim.result()
        for k in range(n):
            last[k] = len(res.survivors) if k in res.survivors else 0
        results.append(res)
    return BattleResult([w.name for w in warriors], results)
