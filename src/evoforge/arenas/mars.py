"""MARS: the Memory Array Redcode Simulator, ICWS'94 with the pMARS extensions.

Semantics follow pMARS 0.9.2 (the reference every Core War hill uses), instruction by
instruction, so that our fights can be checked against it (tests/arenas, when a `pmars`
binary is present):

- the current instruction is copied first; the A-operand is evaluated (pre-decrement, read
  the A-target's two fields, post-increment), then the B-operand the same way, so the B side
  sees the A side's increments; operations use the field values read at evaluation time;
- every warrior has a FIFO queue of processes; warriors take turns, one instruction each;
  ``SPL`` queues the next instruction first and the new process second, and only while the
  warrior has fewer than `max_processes`;
- ``DAT``, and ``DIV``/``MOD`` by zero, remove the executing process (``.F``/``.X``/``.I``
  still write the half whose divisor is non-zero);
- a round lasts ``warriors * max_cycles`` instructions; when a warrior dies the remaining
  budget shrinks like pMARS's; warrior 0 loads at 0, warrior 1 at a position drawn by
  pMARS's generator (`first_position` reproduces ``pmars -F``), and the warrior that moves
  first rotates from round to round;
- P-space (``LDP``/``STP``) per warrior, slot 0 holding the last round's result.

Two engines run a round with exactly these semantics: a small C loop compiled on first use
(`mars_native.py`, `_mars_core.c`; about pMARS's speed on full-length rounds) and the
pure-Python loop it was translated from (`mars_python.py`, ~50x slower), used when no C
compiler is available or with ``EVOFORGE_MARS=python`` (``EVOFORGE_MARS=native`` makes a missing native engine an error).
`Simulation` picks one; callers see no difference (tests/arenas/test_mars_native.py checks
every observable of both against each other). `benchmarks/bench_mars.py` measures both.
Statistics: which cells each warrior has executed or written (its memory coverage),
processes spawned and alive, sampled per cycle on request.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from evoforge.arenas import mars_native
from evoforge.arenas.mars_python import PythonRound
from evoforge.arenas.redcode import Instruction, Warrior


@dataclass(frozen=True)
class MarsConfig:
    """The standard '94 hill settings by default (pMARS's defaults)."""

    coresize: int = 8000
    max_cycles: int = 80_000
    max_processes: int = 8000
    max_length: int = 100
    min_separation: int = 100
    pspace_size: int | None = None  # None: coresize / 16 (or the largest divisor up to 16)

    def pspace(self) -> int:
        if self.pspace_size:
            return self.pspace_size
        for div in range(16, 0, -1):
            if self.coresize % div == 0:
                return self.coresize // div
        return self.coresize  # pragma: no cover - div 1 always divides


DEFAULT_CONFIG = MarsConfig()


@dataclass
class WarriorStats:
    """Behaviour of one warrior in one round (the Red Queen's MAP-Elites descriptors)."""

    spawned: int = 0          # successful SPLs
    max_processes: int = 1
    coverage: int = 0         # distinct core cells the warrior executed or wrote
    died_at: int | None = None  # cycle of death, None if it survived


@dataclass
class RoundResult:
    positions: list[int]
    starter: int
    survivors: list[int]
    cycles: int
    stats: list[WarriorStats]
    samples: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    executed: int = 0  # instructions executed, all warriors together

    @property
    def winner(self) -> int | None:
        """The sole survivor of a multi-warrior round, else None (a tie or a one-warrior run)."""
        return self.survivors[0] if len(self.survivors) == 1 and len(self.stats) > 1 else None


def pmars_rng(seed: int) -> int:
    """pMARS's position generator (Park & Miller minimal standard, integer version 2)."""
    temp = 16807 * (seed % 127773) - 2836 * (seed // 127773)
    return temp + 2147483647 if temp < 0 else temp


class Simulation:
    """One round: a core with warriors loaded, their process queues, and statistics.

    `run(max_steps)` executes instructions and can be called repeatedly (tests single-step
    with it); the round is over when `finished` is True. `pspaces` and `last_results` are
    updated in place (a battle passes the same lists to every round). `engine` says which
    engine runs the round ("native" or "python").
    """

    def __init__(self, warriors: Sequence[Warrior], positions: Sequence[int], *,
                 config: MarsConfig = DEFAULT_CONFIG, starter: int = 0,
                 pspaces: list[list[int]] | None = None, last_results: list[int] | None = None,
                 stats_every: int = 0) -> None:
        n, m = len(warriors), config.coresize
        if n < 1 or len(positions) != n:
            raise ValueError("need at least one warrior and one position per warrior")
        for w in warriors:
            if len(w) > config.max_length:
                raise ValueError(f"warrior {w.name!r} is longer than {config.max_length}")
        self.config, self.warriors, self.positions = config, list(warriors), list(positions)
        psize = config.pspace()
        self.pspaces = pspaces if pspaces is not None else [[0] * psize for _ in range(n)]
        self.last_results = last_results if last_results is not None else [m - 1] * n
        self.starter = starter
        self.stats_every = stats_every
        args = (self.warriors, self.positions, config, starter, self.pspaces,
                self.last_results, stats_every)
        self._engine = mars_native.open_round(*args) or PythonRound(*args)

    # -- inspection ---------------------------------------------------------------------------
    @property
    def engine(self) -> str:
        """"native" (the compiled loop) or "python"."""
        return self._engine.name

    @property
    def finished(self) -> bool:
        return self._engine.finished

    @property
    def samples(self) -> list[tuple[int, tuple[int, ...], tuple[int, ...]]]:
        """(cycle, processes per warrior, coverage per warrior) every `stats_every` cycles."""
        return self._engine.samples

    @property
    def executed(self) -> int:
        """Instructions executed so far in this round (all warriors together)."""
        return self._engine.executed

    @property
    def cycle(self) -> int:
        """Cycles so far: instructions executed / warriors at the start of the round."""
        return self._engine.executed // len(self.warriors)

    def instruction(self, addr: int) -> Instruction:
        return self._engine.instruction(addr)

    def set_instruction(self, addr: int, ins: Instruction) -> None:
        self._engine.set_instruction(addr, ins)

    def processes(self, warrior: int) -> list[int]:
        return self._engine.processes(warrior)

    def coverage(self, warrior: int) -> int:
        return self._engine.coverage(warrior)

    def result(self) -> RoundResult:
        stats = [WarriorStats(*self._engine.stats(w)) for w in range(len(self.warriors))]
        return RoundResult(self.positions, self.starter, self._engine.survivors(), self.cycle,
                           stats, self.samples, self.executed)

    def run(self, max_steps: int | None = None) -> bool:
        """Execute up to `max_steps` instructions (all that remain by default); True when
        the round is over (one warrior left of several, all dead, or no cycles left)."""
        return self._engine.run(max_steps)
