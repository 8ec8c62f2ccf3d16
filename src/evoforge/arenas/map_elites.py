"""A MAP-Elites archive over warrior behaviour: processes spawned x memory covered.

Digital Red Queen keeps, besides the champion line, an archive of the best warrior for each
kind of behaviour, so that co-evolution does not collapse onto one strategy: papers (many
processes, wide coverage), bombers (few processes, wide coverage), imps and stones. Both axes
span orders of magnitude (0 to 8000 processes, 1 to 8000 cells), so cells are logarithmic.

The grid is evoforge's one MAP-Elites grid (`evoforge.search.map_elites`) on two logarithmic
axes; `add()` returns its `AddStatus` (new cell, improved elite, or not added), as pyribs does.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..search.map_elites import AddStatus, Axis, Grid, log_bin

__all__ = ["AddStatus", "BehaviourArchive", "Elite", "log_bin"]


@dataclass
class Elite:
    """The best warrior found for one behaviour cell."""

    key: str                  # an id the caller understands (attempt id, file name...)
    fitness: float
    spawned: float
    coverage: float
    code: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class BehaviourArchive:
    """A `bins x bins` grid; a warrior enters a cell if it is empty or it is fitter."""

    def __init__(self, bins: int = 8, max_processes: int = 8000, coresize: int = 8000) -> None:
        if bins < 2:
            raise ValueError("bins must be at least 2")
        self.bins, self.max_processes, self.coresize = bins, max_processes, coresize
        self.axes = (Axis("spawned", 0, max_processes, bins, "log"), Axis("coverage", 0, coresize, bins, "log"))
        self.cells: Grid[Elite] = Grid(lambda e: e.fitness)

    def cell_of(self, spawned: float, coverage: float) -> tuple[int, int]:
        return (self.axes[0].bin(spawned), self.axes[1].bin(coverage))

    def add(self, elite: Elite) -> AddStatus:
        if not math.isfinite(elite.fitness):
            return AddStatus.NOT_ADDED
        return self.cells.add(self.cell_of(elite.spawned, elite.coverage), elite, elite.fitness)

    def __len__(self) -> int:
        return len(self.cells)

    def filled(self) -> float:
        """Fraction of cells holding an elite."""
        return len(self.cells) / (self.bins * self.bins)

    def qd_score(self) -> float:
        """Sum of elite fitnesses (fitness is in [0, 1] for hill scores)."""
        return self.cells.qd_score()

    def elites(self) -> list[Elite]:
        return sorted(self.cells.values(), key=lambda e: -e.fitness)

    def to_json(self) -> dict[str, Any]:
        return {"bins": self.bins, "max_processes": self.max_processes,
                "coresize": self.coresize,
                "cells": [{"cell": list(c), **asdict(e)} for c, e in sorted(self.cells.items())]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> BehaviourArchive:
        archive = cls(int(data["bins"]), int(data["max_processes"]), int(data["coresize"]))
        for row in data.get("cells", []):
            row = dict(row)
            cell = tuple(row.pop("cell"))
            archive.cells.put((int(cell[0]), int(cell[1])), Elite(**row))
        return archive

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=1), encoding="utf-8")

    def render(self) -> str:
        """A small text picture: rows = coverage (high at the top), columns = spawned."""
        lines = ["coverage \\ spawned -> (each cell: best hill score x100)"]
        for cov in range(self.bins - 1, -1, -1):
            row = []
            for spawn in range(self.bins):
                e = self.cells.get((spawn, cov))
                row.append(f"{round(100 * e.fitness):>4}" if e else "   .")
            lines.append(f"{cov:>2} " + "".join(row))
        return "\n".join(lines)
