"""The population: islands of evaluated programs, kept as a small in-memory index.

Only light rows (id, score, island, children) live here; code is fetched from storage when a
program is chosen. Each island keeps a bounded archive of its best programs, so selection costs
the same whether the run holds a hundred programs or a hundred thousand.
"""
from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field
from typing import Iterable

from ..program import Attempt


@dataclass
class Member:
    id: str
    fitness: float          # score, sign-flipped for minimisation: higher is always better
    island: int
    generation: int
    children: int = 0


@dataclass
class Island:
    index: int
    members: dict[str, Member] = field(default_factory=dict)
    best_fitness: float = -math.inf
    proposals_since_improvement: int = 0


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


class Population:
    """Islands with bounded archives, parent selection, inspirations and migration."""

    def __init__(self, islands: int, *, archive_size: int = 40, maximize: bool = True) -> None:
        self.islands = [Island(i) for i in range(islands)]
        self.archive_size = archive_size
        self.maximize = maximize
        self.children: dict[str, int] = {}
        self.broken: list[str] = []   # ids of failed attempts, for fix mode when nothing is valid
        self._lock = threading.RLock()

    # -- bookkeeping -----------------------------------------------------------------------
    def fitness(self, score: float) -> float:
        return score if self.maximize else -score

    def __len__(self) -> int:
        return sum(len(i.members) for i in self.islands)

    def add(self, attempt: Attempt) -> bool:
        """Record an attempt. Returns True when it is a new best on its island."""
        with self._lock:
            if attempt.parent_id:
                self.children[attempt.parent_id] = self.children.get(attempt.parent_id, 0) + 1
                for isl in self.islands:
                    m = isl.members.get(attempt.parent_id)
                    if m is not None:
                        m.children += 1
            if not attempt.is_program:
                if attempt.code is not None and len(self.broken) < 64:
                    self.broken.append(attempt.id)
                isl = self.islands[attempt.island % len(self.islands)]
                isl.proposals_since_improvement += 1
                return False
            return self._insert(attempt.id, self.fitness(float(attempt.score)), attempt.island, attempt.generation)

    def _insert(self, pid: str, fit: float, island: int, generation: int) -> bool:
        isl = self.islands[island % len(self.islands)]
        isl.members[pid] = Member(pid, fit, isl.index, generation, self.children.get(pid, 0))
        improved = fit > isl.best_fitness
        if improved:
            isl.best_fitness = fit
            isl.proposals_since_improvement = 0
        else:
            isl.proposals_since_improvement += 1
        if len(isl.members) > self.archive_size:
            worst = min(isl.members.values(), key=lambda m: (m.fitness, -m.generation))
            if worst.id != pid or len(isl.members) > self.archive_size:
                del isl.members[worst.id]
        return improved

    def load(self, attempts: Iterable[Attempt]) -> None:
        for a in attempts:
            self.add(a)

    def has_programs(self) -> bool:
        return any(i.members for i in self.islands)

    def best(self) -> Member | None:
        with self._lock:
            all_members = [m for i in self.islands for m in i.members.values()]
            return max(all_members, key=lambda m: m.fitness) if all_members else None

    # -- selection -------------------------------------------------------------------------
    def choose_island(self, rng: random.Random, proposal_index: int) -> int:
        """Round-robin over islands; an empty island borrows from a populated one."""
        return proposal_index % len(self.islands)

    def select_parent(self, island: int, rng: random.Random, strategy: str = "weighted", sharpness: float = 10.0) -> Member | None:
        with self._lock:
            members = list(self.islands[island].members.values())
            if not members:
                members = [m for i in self.islands for m in i.members.values()]
            if not members:
                return None
            if strategy in ("best", "hill_climb"):
                return max(members, key=lambda m: (m.fitness, m.generation))
            if strategy == "uniform":
                return rng.choice(members)
            if strategy == "power_law":
                ranked = sorted(members, key=lambda m: m.fitness, reverse=True)
                weights = [(r + 1) ** -1.0 for r in range(len(ranked))]
                return rng.choices(ranked, weights=weights, k=1)[0]
            return rng.choices(members, weights=self.weights(members, sharpness), k=1)[0]

    @staticmethod
    def weights(members: list[Member], sharpness: float) -> list[float]:
        """ShinkaEvolve's weighting: sigmoid(λ·(f−median)/MAD) · 1/(1+children)."""
        fits = sorted(m.fitness for m in members)
        median = fits[len(fits) // 2]
        mad = sorted(abs(f - median) for f in fits)[len(fits) // 2] or 1e-9
        if all(f == fits[0] for f in fits):
            return [1.0 / (1 + m.children) for m in members]
        return [max(_sigmoid(sharpness * (m.fitness - median) / mad / 10.0), 1e-6) / (1 + m.children) for m in members]

    def inspirations(self, island: int, parent_id: str, rng: random.Random, k: int) -> list[str]:
        """The island's best (other than the parent) plus random diverse members from anywhere."""
        with self._lock:
            if k <= 0:
                return []
            local = sorted(self.islands[island].members.values(), key=lambda m: m.fitness, reverse=True)
            chosen = [m.id for m in local if m.id != parent_id][:1]
            others = [m.id for i in self.islands for m in i.members.values() if m.id != parent_id and m.id not in chosen]
            rng.shuffle(others)
            return (chosen + others)[:k]

    def fitness_of(self, pid: str) -> float | None:
        for isl in self.islands:
            m = isl.members.get(pid)
            if m is not None:
                return m.fitness
        return None

    def pick_broken(self, rng: random.Random) -> str | None:
        with self._lock:
            return self.broken[-1] if self.broken else None

    # -- migration -------------------------------------------------------------------------
    def migrate(self, rng: random.Random) -> list[tuple[str, int, int]]:
        """Ring migration: each island's best is copied once into the next island.

        Returns (program id, from island, to island) for each copy made. A program already on the
        target island is not copied again, so migration never floods an island with duplicates.
        """
        moves = []
        with self._lock:
            n = len(self.islands)
            if n < 2:
                return moves
            for isl in self.islands:
                if not isl.members:
                    continue
                best = max(isl.members.values(), key=lambda m: m.fitness)
                target = self.islands[(isl.index + 1) % n]
                if best.id in target.members:
                    continue
                target.members[best.id] = Member(best.id, best.fitness, target.index, best.generation, best.children)
                if best.fitness > target.best_fitness:
                    target.best_fitness = best.fitness
                moves.append((best.id, isl.index, target.index))
        return moves
