"""One warrior against a set of opponents: what the Core War evaluator and the Red Queen loop
both need (scores, per-opponent records, behaviour descriptors).

Positions are seeded by the opponent's name, so every candidate meets each opponent at the
same places: scores of different candidates are comparable and re-evaluation is exact.
"""
from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from evoforge.arenas.assembler import AssemblyError, assemble
from evoforge.arenas.battle import battle
from evoforge.arenas.mars import DEFAULT_CONFIG, MarsConfig
from evoforge.arenas.redcode import Warrior


@dataclass
class Fight:
    """One battle of the warrior against one opponent (from the warrior's side)."""

    opponent: str
    wins: int
    ties: int
    losses: int
    score: float            # (3W + T) / 3R
    spawned: float
    coverage: float
    max_processes: float


@dataclass
class LeagueResult:
    fights: list[Fight] = field(default_factory=list)

    @property
    def score(self) -> float:
        """Mean hill score over opponents, in [0, 1]."""
        return sum(f.score for f in self.fights) / len(self.fights) if self.fights else 0.0

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.fights)

    def mean(self, name: str) -> float:
        return sum(getattr(f, name) for f in self.fights) / max(1, len(self.fights))

    def table(self) -> str:
        """Per-opponent lines for the model's feedback."""
        return "\n".join(f"vs {f.opponent}: {f.wins} won, {f.ties} tied, {f.losses} lost "
                         f"(score {f.score:.2f})" for f in self.fights)


def load_warriors(folder: str | Path, config: MarsConfig = DEFAULT_CONFIG) -> list[tuple[str, Warrior]]:
    """Every ``*.red`` in `folder` (sorted by name), assembled; a broken file is an error here
    because these are the task's own trusted warriors."""
    out = []
    for path in sorted(Path(folder).glob("*.red")):
        try:
            out.append((path.stem, assemble(path.read_text(encoding="utf-8"),
                                            coresize=config.coresize,
                                            max_length=config.max_length)))
        except AssemblyError as exc:
            raise AssemblyError(f"{path}: {exc}") from None
    return out


def play(warrior: Warrior, opponents: Sequence[tuple[str, Warrior]], *, rounds: int = 4,
         config: MarsConfig = DEFAULT_CONFIG) -> LeagueResult:
    """Fight `warrior` against each opponent for `rounds` rounds."""
    result = LeagueResult()
    for name, opponent in opponents:
        seed = zlib.crc32(name.encode("utf-8"))
        b = battle([warrior, opponent], rounds=rounds, config=config, seed=seed)
        beh = b.behaviour(0)
        result.fights.append(Fight(name, b.wins(0), b.ties(0), b.losses(0), b.score(0),
                                   beh["spawned"], beh["coverage"], beh["max_processes"]))
    return result
