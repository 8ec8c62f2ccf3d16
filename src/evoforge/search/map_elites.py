"""The one MAP-Elites grid of evoforge: behaviour descriptors binned into cells, one elite per cell.

Why one: the islands of a run (`search.population`, OpenEvolve-style diversity within an island)
and the Red Queen behaviour archive (`arenas.map_elites`, DRQ's archive over warrior behaviour)
both keep "the fittest thing seen in each cell"; they differ only in what an elite is (a program
id, a warrior) and how a descriptor is binned (linear, or logarithmic for quantities spanning
orders of magnitude), so both are this grid.

`Grid` is read like a ``dict`` (cell -> elite) but written only through `add`, which returns an
`AddStatus` (new cell, improved elite, or not added), in the style of pyribs. The grid asks its
owner for an elite's fitness (`fitness_of`) instead of keeping a copy, so an elite that left its
owner (a program trimmed from an island's archive: ``fitness_of`` returns None) gives its cell to
the next newcomer, and the cell keeps its place in the iteration order — which seeded selection
among cell owners depends on.
"""
from __future__ import annotations

import enum
import math
from collections.abc import (
    Callable,
    ItemsView,
    Iterator,
    KeysView,
    Mapping,
    Sequence,
    ValuesView,
)
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")
Cell = tuple[int, ...]


class AddStatus(enum.IntEnum):
    NOT_ADDED = 0
    IMPROVED = 1
    NEW = 2


def log_bin(value: float, bins: int, top: float) -> int:
    """0 for values below 1, then log2-spaced cells up to `top` (the last cell is open)."""
    if value < 1:
        return 0
    edge = math.log2(max(1.0, value)) / math.log2(max(2.0, top)) * (bins - 1)
    return min(bins - 1, 1 + int(edge))


@dataclass(frozen=True)
class Axis:
    """One behaviour descriptor: `bins` cells over [low, high] (values outside go to the end
    cells). ``scale="log"``: cell 0 below 1, then log2-spaced cells up to `high` (`log_bin`)."""

    name: str
    low: float
    high: float
    bins: int
    scale: str = "linear"

    def bin(self, value: float) -> int:
        if self.scale == "log":
            return log_bin(value, self.bins, self.high)
        if self.high <= self.low:
            return 0
        frac = (value - self.low) / (self.high - self.low)
        return min(self.bins - 1, max(0, int(frac * self.bins)))


def cell_of(axes: Sequence[Axis], descriptors: Mapping[str, float] | None) -> Cell | None:
    """The cell of a descriptor mapping; None without axes, or when a descriptor is missing or
    not a number (such a program simply has no cell)."""
    if not axes or descriptors is None:
        return None
    try:
        return tuple(axis.bin(float(descriptors[axis.name])) for axis in axes)
    except (KeyError, TypeError, ValueError):
        return None


class Grid(Mapping[Cell, T], Generic[T]):
    """Cell -> elite. Not thread-safe on its own: its owner's lock covers it."""

    def __init__(self, fitness_of: Callable[[T], float | None]) -> None:
        self._fitness_of = fitness_of
        self._cells: dict[Cell, T] = {}

    def add(self, cell: Cell, elite: T, fitness: float) -> AddStatus:
        """Put `elite` in `cell` if the cell is empty, its elite is gone, or `fitness` is higher."""
        current = self._cells.get(cell)
        if current is None:
            self._cells[cell] = elite
            return AddStatus.NEW
        held = self._fitness_of(current)
        if held is None or held < fitness:
            self._cells[cell] = elite
            return AddStatus.IMPROVED
        return AddStatus.NOT_ADDED

    def put(self, cell: Cell, elite: T) -> None:
        """Set a cell unconditionally (loading a saved grid)."""
        self._cells[cell] = elite

    def clear(self) -> None:
        self._cells.clear()

    def qd_score(self) -> float:
        """Sum of the fitnesses of the elites still present (the quality-diversity score)."""
        return sum(f for f in (self._fitness_of(e) for e in self._cells.values()) if f is not None)

    # -- read like a dict (the views are the dict's own: selection and trimming read them often)
    def __getitem__(self, cell: Cell) -> T:
        return self._cells[cell]

    def __iter__(self) -> Iterator[Cell]:
        return iter(self._cells)

    def __len__(self) -> int:
        return len(self._cells)

    def __contains__(self, cell: object) -> bool:
        return cell in self._cells

    def get(self, cell: Cell, default: T | None = None) -> T | None:  # type: ignore[override]
        return self._cells.get(cell, default)

    def keys(self) -> KeysView[Cell]:
        return self._cells.keys()

    def values(self) -> ValuesView[T]:
        return self._cells.values()

    def items(self) -> ItemsView[Cell, T]:
        return self._cells.items()

    def __repr__(self) -> str:
        return f"Grid({self._cells!r})"
