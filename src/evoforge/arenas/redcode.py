"""Redcode (ICWS'94) vocabulary: opcodes, modifiers, addressing modes, instructions, warriors.

Instructions are kept as small immutable tuples for the assembler, the tests and the archive,
and as one packed integer per core cell inside the simulator (`encode`), because a MARS spends
its life comparing and copying cells and one int is the cheapest thing Python can copy.

Packing: ``code = ((opcode * 8 + modifier) * 8 + a_mode) * 8 + b_mode``, so ``code >> 6`` is
the opcode/modifier pair the simulator dispatches on, and two cells hold the same instruction
(ignoring their numbers) exactly when their codes are equal, which is what ``CMP.I`` needs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

OPCODES: tuple[str, ...] = ("DAT", "MOV", "ADD", "SUB", "MUL", "DIV", "MOD", "JMP", "JMZ",
                            "JMN", "DJN", "SPL", "SLT", "SEQ", "SNE", "NOP", "LDP", "STP")
OPCODE_ALIASES: dict[str, str] = {"CMP": "SEQ"}  # CMP and SEQ are one instruction in '94
MODIFIERS: tuple[str, ...] = ("A", "B", "AB", "BA", "F", "X", "I")
# Mode numbers are chosen so that the simulator can branch on ranges: 0 immediate, 1 direct,
# 2-4 use the B-field of the pointer cell, 5-7 its A-field.
MODES: tuple[str, ...] = ("#", "$", "@", "<", ">", "*", "{", "}")

(DAT, MOV, ADD, SUB, MUL, DIV, MOD, JMP, JMZ, JMN, DJN, SPL, SLT, SEQ, SNE, NOP, LDP,
 STP) = range(len(OPCODES))
M_A, M_B, M_AB, M_BA, M_F, M_X, M_I = range(len(MODIFIERS))
IMMEDIATE, DIRECT, B_INDIRECT, B_PREDEC, B_POSTINC, A_INDIRECT, A_PREDEC, A_POSTINC = range(8)

OPCODE_INDEX = {name: i for i, name in enumerate(OPCODES)}
MODIFIER_INDEX = {name: i for i, name in enumerate(MODIFIERS)}
MODE_INDEX = {sym: i for i, sym in enumerate(MODES)}


def default_modifier(opcode: int, a_mode: int, b_mode: int) -> int:
    """The ICWS'94 default modifier when the source gives none (same table as pMARS)."""
    if opcode in (DAT, NOP):
        return M_F
    if opcode in (MOV, SEQ, SNE):
        return M_AB if a_mode == IMMEDIATE else M_B if b_mode == IMMEDIATE else M_I
    if opcode in (ADD, SUB, MUL, DIV, MOD):
        return M_AB if a_mode == IMMEDIATE else M_B if b_mode == IMMEDIATE else M_F
    if opcode in (SLT, LDP, STP):
        return M_AB if a_mode == IMMEDIATE else M_B
    return M_B  # JMP JMZ JMN DJN SPL


class Instruction(NamedTuple):
    """One assembled instruction; fields are already reduced modulo the core size."""

    opcode: int
    modifier: int
    a_mode: int
    a: int
    b_mode: int
    b: int

    @property
    def code(self) -> int:
        """The packed opcode/modifier/modes integer the simulator stores."""
        return encode(self.opcode, self.modifier, self.a_mode, self.b_mode)

    def __str__(self) -> str:
        return (f"{OPCODES[self.opcode]}.{MODIFIERS[self.modifier]} "
                f"{MODES[self.a_mode]}{self.a}, {MODES[self.b_mode]}{self.b}")

    def signed(self, coresize: int) -> str:
        """Text with fields shown in (-coresize/2, coresize/2], easier to read."""
        def s(v: int) -> int:
            return v - coresize if v > coresize // 2 else v
        return (f"{OPCODES[self.opcode]}.{MODIFIERS[self.modifier]} "
                f"{MODES[self.a_mode]}{s(self.a)}, {MODES[self.b_mode]}{s(self.b)}")


def encode(opcode: int, modifier: int, a_mode: int, b_mode: int) -> int:
    return ((opcode * 8 + modifier) * 8 + a_mode) * 8 + b_mode


def decode(code: int, a: int, b: int) -> Instruction:
    """Inverse of `encode` plus the two fields."""
    return Instruction(code >> 9, (code >> 6) & 7, (code >> 3) & 7, a, code & 7, b)


INITIAL_INSTRUCTION = Instruction(DAT, M_F, DIRECT, 0, DIRECT, 0)  # what an empty core holds


@dataclass(frozen=True)
class Warrior:
    """An assembled warrior: instructions to load, and the offset its first process starts at."""

    instructions: tuple[Instruction, ...]
    start: int = 0
    name: str = "unnamed"
    author: str = "anonymous"
    source: str = field(default="", compare=False, repr=False)

    def __len__(self) -> int:
        return len(self.instructions)

    def listing(self, coresize: int = 8000) -> str:
        """Load-file text (`ORG` + one instruction per line) that any '94 MARS assembles the
        same way: the canonical form stored in archives and fed to pMARS in tests."""
        lines = [";redcode-94", f";name {self.name}", f";author {self.author}",
                 f"ORG {self.start}"]
        lines += [ins.signed(coresize) for ins in self.instructions]
        lines.append("END")
        return "\n".join(lines) + "\n"
