"""How an island keeps its programs: one small class per archive policy, in one registry.

Why a registry (like `selection.py`'s rules): the archive decides which programs stay
selectable as a run grows, so a policy is one subclass with `@register` and its test, and
`search.archive` in the config names one (validated against `names()`, nearest-name hint).
`elitist`, the default, keeps the island's `archive_size` fittest programs; MAP-Elites cell
owners (the island's `grid`, when the run has axes) are never trimmed. The Pareto front of a
many-objective run is kept beside it (`pareto.ObjectiveArchive`), not instead of it.
"""
from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from .population import Island, Member

__all__ = ["ArchivePolicy", "Elitist", "create", "get", "names", "nearest", "register", "unregister"]


class ArchivePolicy(ABC):
    """Admit a newly evaluated program to an island (trimming it back to size)."""

    name: ClassVar[str]

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"an archive keeps at least one program, got size {size}")
        self.size = size

    @abstractmethod
    def admit(self, island: Island, member: Member) -> bool:
        """Add `member` to `island` (or decide it is not kept); keep the island's bookkeeping
        (`best_fitness`, `proposals_since_improvement`, `grid`) right. True when it is the
        island's new best."""


_REGISTRY: dict[str, type[ArchivePolicy]] = {}


def register(cls: type[ArchivePolicy]) -> type[ArchivePolicy]:
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"archive policy {cls.name!r} is already registered by {_REGISTRY[cls.name].__name__}")
    _REGISTRY[cls.name] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a policy (for tests that register one of their own)."""
    _REGISTRY.pop(name, None)


def names() -> list[str]:
    return list(_REGISTRY)


def nearest(name: str) -> str | None:
    close = difflib.get_close_matches(str(name), names(), n=1, cutoff=0.5)
    return close[0] if close else None


def get(name: str) -> type[ArchivePolicy]:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = nearest(name)
        hint = f"; did you mean '{close}'?" if close else f"; valid policies: {', '.join(names())}"
        raise KeyError(f"unknown archive policy {name!r}{hint}") from None


def create(name: str, size: int) -> ArchivePolicy:
    return get(name)(size)


def record(island: Island, fitness: float) -> bool:
    """The island's best and stagnation counter after a program of `fitness` was admitted."""
    if fitness > island.best_fitness:
        island.best_fitness = fitness
        island.proposals_since_improvement = 0
        return True
    island.proposals_since_improvement += 1
    return False


@register
class Elitist(ArchivePolicy):
    """The `size` fittest (the youngest among equals stay); MAP-Elites cell owners are never trimmed.

    Cheap at any run size: a full island without a grid remembers its smallest (fitness,
    -generation), and a newcomer strictly below it is not inserted at all (what inserting and
    trimming it would do) — that keeps replaying 100k attempts on resume cheap."""

    name = "elitist"

    def admit(self, island: Island, member: Member) -> bool:
        key = (member.fitness, -member.generation)
        if member.cell is None and island.floor is not None and member.id not in island.members and key < island.floor:
            island.proposals_since_improvement += 1
            return False
        island.floor = None
        island.members[member.id] = member
        if member.cell is not None:
            island.grid.add(member.cell, member.id, member.fitness)
        improved = record(island, member.fitness)
        if len(island.members) > self.size:
            owners = set(island.grid.values())
            trimmable = [m for m in island.members.values() if m.id not in owners] or list(island.members.values())
            worst = min(trimmable, key=lambda m: (m.fitness, -m.generation))
            del island.members[worst.id]
            if not island.grid:
                island.floor = min((m.fitness, -m.generation) for m in island.members.values())
        return improved
