"""Many objectives: dominance, non-dominated sorting, crowding, exact hypervolume, a per-island
Pareto archive and the front-based parent-selection rules.

Every function here works on *oriented* vectors: each objective already turned so that higher is
better (a minimised objective is negated by the caller, `engine.objectives`), so there is one
definition of "better" and no direction flag threaded through the maths. A reference point is
oriented the same way; only the part of objective space strictly better than it in every
coordinate counts towards a hypervolume.

Why a Pareto archive of its own instead of the population's archive: the population trims its
archive by one scalar fitness, which would throw away the extreme points of a front (the fastest
program, say, whose quality is poor). The archive here keeps each island's non-dominated set
(bounded, trimmed by crowding distance, extremes kept), and the `pareto` rule selects over that
front plus the island's members.

    front_ranks([(1, 2), (2, 1), (0, 0)])          -> [0, 0, 1]
    hypervolume([(1, 2), (2, 1)], (0, 0))           -> 3.0
"""
from __future__ import annotations

import dataclasses
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .selection import ParentSelector, SelectionSettings, register

if TYPE_CHECKING:
    from .population import Member

Vector = tuple[float, ...]

__all__ = ["FrontPoint", "ObjectiveArchive", "ParetoFront", "ParetoSelection", "LexicographicSelection",
           "box_volume", "crowding_distances", "dominates", "front_ranks", "hypervolume",
           "hypervolume_contributions", "non_dominated", "non_dominated_sort"]


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """`a` is at least as good as `b` everywhere and better somewhere (higher is better)."""
    better = False
    for x, y in zip(a, b, strict=True):
        if x < y:
            return False
        if x > y:
            better = True
    return better


def non_dominated_sort(points: Sequence[Sequence[float]]) -> list[list[int]]:
    """Fronts of indices into `points`: front 0 is non-dominated, front 1 is non-dominated once
    front 0 is removed, and so on (Deb et al.'s fast non-dominated sort, O(M·N²)). Equal points
    share a front."""
    n = len(points)
    dominated_by: list[list[int]] = [[] for _ in range(n)]
    counts = [0] * n
    for i in range(n):
        for j in range(i + 1, n):
            if dominates(points[i], points[j]):
                dominated_by[i].append(j)
                counts[j] += 1
            elif dominates(points[j], points[i]):
                dominated_by[j].append(i)
                counts[i] += 1
    fronts: list[list[int]] = []
    current = [i for i in range(n) if counts[i] == 0]
    while current:
        fronts.append(current)
        nxt = []
        for i in current:
            for j in dominated_by[i]:
                counts[j] -= 1
                if counts[j] == 0:
                    nxt.append(j)
        current = sorted(nxt)
    return fronts


def front_ranks(points: Sequence[Sequence[float]]) -> list[int]:
    """The front number of each point (0 = non-dominated)."""
    ranks = [0] * len(points)
    for r, front in enumerate(non_dominated_sort(points)):
        for i in front:
            ranks[i] = r
    return ranks


def non_dominated(points: Sequence[Sequence[float]]) -> list[int]:
    """Indices of the non-dominated points."""
    return non_dominated_sort(points)[0] if points else []


def crowding_distances(points: Sequence[Sequence[float]]) -> list[float]:
    """NSGA-II crowding distance of each point within its set: per objective, the gap between its
    neighbours divided by the objective's range, summed; the extremes of any objective get
    infinity so that trimming by crowding never loses the ends of a front."""
    n = len(points)
    if n == 0:
        return []
    if n <= 2:
        return [math.inf] * n
    dist = [0.0] * n
    for k in range(len(points[0])):
        order = sorted(range(n), key=lambda i: (points[i][k], i))
        low, high = points[order[0]][k], points[order[-1]][k]
        dist[order[0]] = dist[order[-1]] = math.inf
        span = high - low
        if span <= 0:
            continue
        for pos in range(1, n - 1):
            i = order[pos]
            if dist[i] != math.inf:
                dist[i] += (points[order[pos + 1]][k] - points[order[pos - 1]][k]) / span
    return dist


def box_volume(point: Sequence[float], reference: Sequence[float]) -> float:
    """The hypervolume of a single point: the box between it and the reference (0 when it is not
    strictly better than the reference in every objective)."""
    volume = 1.0
    for x, r in zip(point, reference, strict=True):
        if x <= r:
            return 0.0
        volume *= x - r
    return volume


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """Exact hypervolume dominated by `points` and bounded by `reference` (higher is better).

    Two objectives: one sweep, O(N log N). More: slicing along the last objective, each slab's
    area computed on the points above it (exact, O(N^(d-1) log N); fronts are small, at most the
    archive size, and config allows at most four objectives in pareto mode)."""
    ref = tuple(float(r) for r in reference)
    pts = [tuple(float(x) for x in p) for p in points if all(x > r for x, r in zip(p, ref, strict=True))]
    if not pts:
        return 0.0
    d = len(ref)
    if d == 1:
        return max(p[0] for p in pts) - ref[0]
    if d == 2:
        pts.sort(key=lambda p: (-p[0], -p[1]))
        area, top = 0.0, ref[1]
        for x, y in pts:
            if y > top:
                area += (x - ref[0]) * (y - top)
                top = y
        return area
    pts.sort(key=lambda p: -p[-1])
    volume = 0.0
    for i, p in enumerate(pts):
        below = pts[i + 1][-1] if i + 1 < len(pts) else ref[-1]
        height = p[-1] - below
        if height > 0:
            volume += height * hypervolume([q[:-1] for q in pts[: i + 1]], ref[:-1])
    return volume


def hypervolume_contributions(points: Sequence[Sequence[float]], reference: Sequence[float]) -> list[float]:
    """What each point alone adds: hv(all) − hv(all without it) (0 for a dominated point)."""
    total = hypervolume(points, reference)
    return [total - hypervolume([q for j, q in enumerate(points) if j != i], reference) for i in range(len(points))]


@dataclass(frozen=True)
class FrontPoint:
    """A program on a front: its oriented objective vector and what a parent plan needs."""

    id: str
    vector: Vector
    fitness: float
    generation: int


@dataclass
class ParetoFront:
    """One island's non-dominated set, at most `capacity` points (0 = unbounded).

    `add` returns "added", "dominated" (by a point already there) or "duplicate" (an equal vector
    is there: the first program to reach a point keeps it). Past capacity the most crowded point
    leaves; the extremes of each objective have infinite crowding distance and stay."""

    capacity: int = 0
    points: dict[str, FrontPoint] = field(default_factory=dict)

    def add(self, point: FrontPoint) -> str:
        for other in self.points.values():
            if other.vector == point.vector:
                return "duplicate"
            if dominates(other.vector, point.vector):
                return "dominated"
        for pid in [pid for pid, other in self.points.items() if dominates(point.vector, other.vector)]:
            del self.points[pid]
        self.points[point.id] = point
        if self.capacity and len(self.points) > self.capacity:
            ids = list(self.points)
            dist = crowding_distances([self.points[i].vector for i in ids])
            worst = min(range(len(ids)), key=lambda k: (dist[k], -self.points[ids[k]].generation, ids[k]))
            del self.points[ids[worst]]
        return "added"

    def __len__(self) -> int:
        return len(self.points)


class ObjectiveArchive:
    """Every program's oriented objective vector, and one Pareto front per island.

    The engine adds each valid program (`add`) and rebuilds the archive from stored metrics on
    resume; the front-based selectors read it (`bind`)."""

    def __init__(self, islands: int, capacity: int = 0) -> None:
        self.fronts = [ParetoFront(capacity) for _ in range(max(1, islands))]
        self.vectors: dict[str, Vector] = {}

    def add(self, pid: str, vector: Sequence[float], *, island: int, fitness: float, generation: int) -> str:
        vec = tuple(float(x) for x in vector)
        self.vectors[pid] = vec
        return self.fronts[island % len(self.fronts)].add(FrontPoint(pid, vec, float(fitness), int(generation)))

    def front(self, island: int) -> list[FrontPoint]:
        return list(self.fronts[island % len(self.fronts)].points.values())

    def vector(self, pid: str) -> Vector | None:
        return self.vectors.get(pid)


class _FrontRule(ParentSelector):
    """A rule over the run's objective vectors: the engine binds its archive. Unbound (a task
    without `objectives:`) the fitness is the only objective: `pareto` is then a binary tournament
    on the score and `lexicographic` a rank-weighted choice, so every rule works on every task."""

    def __init__(self, settings: SelectionSettings | None = None) -> None:
        super().__init__(settings)
        self.archive: ObjectiveArchive | None = None

    def bind(self, archive: ObjectiveArchive) -> None:
        self.archive = archive

    def _pool(self, members: Sequence[Member], with_front: bool) -> list[tuple[Member, Vector]]:
        if self.archive is None:  # a single-objective run: the fitness is the one objective
            return [(m, (m.fitness,)) for m in members]
        pool: dict[str, tuple[Member, Vector]] = {}
        for m in members:
            vec = self.archive.vector(m.id)
            if vec is not None:
                pool[m.id] = (m, vec)
        if with_front and members:
            template = members[0]
            for p in self.archive.front(template.island):
                if p.id not in pool:  # trimmed from the scalar archive but still on the front
                    pool[p.id] = (dataclasses.replace(template, id=p.id, fitness=p.fitness, generation=p.generation,
                                                      children=0, cell=None), p.vector)
        return list(pool.values())


@register
class ParetoSelection(_FrontRule):
    """NSGA-II's binary tournament over the island's members and its Pareto front: the lower
    front rank wins, then the larger crowding distance (the less explored part of the front),
    then fewer children."""

    name = "pareto"

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        pool = self._pool(members, with_front=True)
        if not pool:
            return rng.choice(list(members))
        vectors = [v for _, v in pool]
        ranks = front_ranks(vectors)
        crowd = [0.0] * len(pool)
        for front in non_dominated_sort(vectors):
            for i, d in zip(front, crowding_distances([vectors[i] for i in front])):
                crowd[i] = d
        if len(pool) == 1:
            return pool[0][0]
        a, b = rng.sample(range(len(pool)), 2)
        key = lambda i: (ranks[i], -crowd[i], pool[i][0].children)  # noqa: E731
        return pool[min(a, b, key=key)][0]


@register
class LexicographicSelection(_FrontRule):
    """For users who rank objectives: members ordered by their vector compared objective by
    objective (the first decides, the next breaks its ties...), the r-th chosen with weight 1/r."""

    name = "lexicographic"

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        pool = self._pool(members, with_front=False)
        if not pool:
            return rng.choice(list(members))
        ranked = sorted(pool, key=lambda mv: (mv[1], mv[0].generation), reverse=True)
        weights = [(r + 1) ** -1.0 for r in range(len(ranked))]
        return rng.choices(ranked, weights=weights, k=1)[0][0]
