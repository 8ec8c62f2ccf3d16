"""Arenas: programs that fight each other. Core War (a Redcode MARS) and the Red Queen loop.

    assemble(text) -> Warrior              Redcode '94 assembler (labels, EQU, expressions)
    battle([w1, w2], rounds=...)           rounds on a fresh core, pMARS-compatible
    Simulation                             one round, steppable, with per-cycle statistics
    red_queen(task_dir, rounds=...)        co-evolution against the history of champions
"""
from __future__ import annotations

from evoforge.arenas.assembler import AssemblyError, assemble
from evoforge.arenas.battle import BattleResult, battle
from evoforge.arenas.mars import MarsConfig, RoundResult, Simulation, WarriorStats
from evoforge.arenas.redcode import Instruction, Warrior

__all__ = ["AssemblyError", "BattleResult", "Instruction", "MarsConfig", "RoundResult",
           "Simulation", "Warrior", "WarriorStats", "assemble", "battle"]
