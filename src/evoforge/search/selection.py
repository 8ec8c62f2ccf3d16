"""Parent-selection rules: one small class each, in one registry.

Why a registry of classes rather than a branch per name: config validation (with its
nearest-name hint), the engine and the population all read the same records, so adding a rule
is one subclass with `@register` and its test — no string repeated in config, engine and
population (as Optuna's samplers or pyribs' emitters are classes, not flags).

A selector sees the members of one island (never empty) and, for MAP-Elites, the members that
own a grid cell (`elites`); it returns one of them. Higher `fitness` is always better (the
population flips the sign for minimisation). A selector may keep state between calls
(`best_first` counts expansions), so the population keeps one instance per rule and settings.

    selector = create("beam", SelectionSettings(beam_width=2))
    parent = selector.select(members, rng)
"""
from __future__ import annotations

import difflib
import math
import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from .best_first import BestFirstSelector

if TYPE_CHECKING:
    from .population import Member

__all__ = ["ParentSelector", "SelectionSettings", "create", "get", "names", "nearest", "register", "shinka_weights", "unregister"]


@dataclass(frozen=True)
class SelectionSettings:
    """The knobs selection rules read (from `search.*` in the config); each rule uses its own."""

    sharpness: float = 10.0          # weighted: lambda in sigmoid(lambda * (fitness - median) / MAD)
    beam_width: int = 4              # beam: picks among this many best
    expansions_per_node: int = 3     # best_first: expands a node this many times


class ParentSelector(ABC):
    """Pick the parent of the next proposal among an island's members."""

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()

    def __init__(self, settings: SelectionSettings | None = None) -> None:
        self.settings = settings or SelectionSettings()

    @abstractmethod
    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        """One of `members` (never empty). `elites` are the MAP-Elites cell owners, if any."""


_REGISTRY: dict[str, type[ParentSelector]] = {}


def register(cls: type[ParentSelector]) -> type[ParentSelector]:
    """Class decorator: make a rule configurable as `search.parent_selection: <name>`."""
    for key in (cls.name, *cls.aliases):
        if key in _REGISTRY and _REGISTRY[key] is not cls:
            raise ValueError(f"parent-selection rule {key!r} is already registered by {_REGISTRY[key].__name__}")
        _REGISTRY[key] = cls
    return cls


def unregister(name: str) -> None:
    """Remove a rule and its aliases (for tests that register a rule of their own)."""
    cls = _REGISTRY.get(name)
    for key in [k for k, v in _REGISTRY.items() if v is cls]:
        del _REGISTRY[key]


def names() -> list[str]:
    """Every configurable name (aliases included), in registration order."""
    return list(_REGISTRY)


def nearest(name: str) -> str | None:
    close = difflib.get_close_matches(str(name), names(), n=1, cutoff=0.5)
    return close[0] if close else None


def get(name: str) -> type[ParentSelector]:
    try:
        return _REGISTRY[name]
    except KeyError:
        close = nearest(name)
        hint = f"; did you mean '{close}'?" if close else f"; valid rules: {', '.join(names())}"
        raise KeyError(f"unknown parent-selection rule {name!r}{hint}") from None


def create(name: str, settings: SelectionSettings | None = None) -> ParentSelector:
    return get(name)(settings)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def shinka_weights(members: Sequence[Member], sharpness: float) -> list[float]:
    """ShinkaEvolve's weighting: sigmoid(λ·(f−median)/MAD) · 1/(1+children)."""
    fits = sorted(m.fitness for m in members)
    median = fits[len(fits) // 2]
    mad = sorted(abs(f - median) for f in fits)[len(fits) // 2] or 1e-9
    if all(f == fits[0] for f in fits):
        return [1.0 / (1 + m.children) for m in members]
    return [max(_sigmoid(sharpness * (m.fitness - median) / mad / 10.0), 1e-6) / (1 + m.children) for m in members]


@register
class Weighted(ParentSelector):
    """The default: good programs more often, programs with many children less often."""

    name = "weighted"

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        return rng.choices(list(members), weights=shinka_weights(members, self.settings.sharpness), k=1)[0]


@register
class PowerLaw(ParentSelector):
    """Rank-based: the r-th best is chosen with weight 1/r."""

    name = "power_law"

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        ranked = sorted(members, key=lambda m: m.fitness, reverse=True)
        weights = [(r + 1) ** -1.0 for r in range(len(ranked))]
        return rng.choices(ranked, weights=weights, k=1)[0]


@register
class HillClimb(ParentSelector):
    """Always the best (the youngest among equals): greedy refinement of one line."""

    name = "hill_climb"
    aliases = ("best",)

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        return max(members, key=lambda m: (m.fitness, m.generation))


@register
class Uniform(ParentSelector):
    """Any member, equally likely: the no-pressure baseline."""

    name = "uniform"

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        return rng.choice(list(members))


@register
class Beam(ParentSelector):
    """Uniform among the `beam_width` best."""

    name = "beam"

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        ranked = sorted(members, key=lambda m: m.fitness, reverse=True)[: max(1, self.settings.beam_width)]
        return rng.choice(ranked)


@register
class MapElites(ParentSelector):
    """Uniform among the owners of MAP-Elites cells (every member when the run has no grid)."""

    name = "map_elites"

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        return rng.choice(list(elites) or list(members))


@register
class BestFirst(ParentSelector):
    """ALE-Agent: refine the best node that still has refinements left (see best_first.py)."""

    name = "best_first"

    def __init__(self, settings: SelectionSettings | None = None) -> None:
        super().__init__(settings)
        self._tree = BestFirstSelector(self.settings.expansions_per_node)

    def select(self, members: Sequence[Member], rng: random.Random, *, elites: Sequence[Member] = ()) -> Member:
        chosen = self._tree.select([(m.id, m.fitness) for m in members])
        return next(m for m in members if m.id == chosen)


# front-based rules (many objectives) register themselves into this registry
from . import pareto  # noqa: E402,F401
