"""The Redcode assembler: labels, EQU, ORG/END, expressions, defaults, and clear errors."""
from __future__ import annotations

import pytest

from evoforge.arenas import AssemblyError, Instruction, assemble
from evoforge.arenas.assembler import parse_expression
from evoforge.arenas.redcode import (
    ADD,
    DAT,
    DIRECT,
    IMMEDIATE,
    JMP,
    M_AB,
    M_B,
    M_F,
    M_I,
    MOV,
    SEQ,
    SPL,
    decode,
)


def test_labels_are_relative_and_org_sets_the_start():
    w = assemble("""
    ;name Dwarf
    ;author someone
    step    EQU 4
            ORG start
    bomb    DAT.F #0, #0
    start   ADD.AB #step, bomb
            MOV.I bomb, @bomb
            JMP start
    """)
    assert w.name == "Dwarf" and w.author == "someone"
    assert w.start == 1
    assert w.instructions[1] == Instruction(ADD, M_AB, IMMEDIATE, 4, DIRECT, 7999)
    assert str(w.instructions[2]) == "MOV.I $7998, @7998"
    assert w.instructions[3].signed(8000) == "JMP.B $-2, $0"


def test_end_label_sets_the_start_and_text_after_end_is_ignored():
    w = assemble("a DAT 0\nb MOV 0, 1\nEND b\nthis is not redcode")
    assert w.start == 1 and len(w) == 2


def test_expressions_precedence_parentheses_and_c_division():
    w = assemble("""
    x   EQU 7*3
    h   EQU (x+1)/2
        DAT #-7/2, #-7%3
        DAT #(h*2)-1, #x%5
        DAT #2+3*4, #-(2+3)*4
    """)
    signed = [i.signed(8000) for i in w.instructions]
    assert signed == ["DAT.F #-3, #-1", "DAT.F #21, #1", "DAT.F #14, #-20"]


def test_equ_is_an_expression_not_text():
    # pMARS substitutes text (2+3*2 = 8); evoforge keeps the parsed expression (5*2 = 10)
    w = assemble("x EQU 2+3\nDAT #x*2, #0")
    assert w.instructions[0].a == 10


def test_equ_may_refer_to_labels_relative_to_the_line_using_it():
    w = assemble("target EQU top+2\ntop DAT 0\nJMP target\nDAT 0")
    assert w.instructions[1].signed(8000) == "JMP.B $1, $0"


def test_predefined_constants():
    w = assemble("DAT #CORESIZE-1, #MAXLENGTH", coresize=8000)
    assert w.instructions[0].a == 7999 and w.instructions[0].b == 100


@pytest.mark.parametrize("src,mod", [
    ("MOV 0, 1", M_I), ("MOV #1, 1", M_AB), ("MOV 1, #1", M_B), ("ADD 1, 2", M_F),
    ("ADD #1, 2", M_AB), ("SUB 1, #2", M_B), ("SLT 1, 2", M_B), ("SLT #1, 2", M_AB),
    ("JMP 1", M_B), ("SPL 1", M_B), ("DJN 1, 2", M_B), ("DAT 1, 2", M_F), ("NOP 1", M_F),
    ("CMP 1, 2", M_I), ("SNE #1, 2", M_AB), ("LDP #1, 2", M_AB), ("STP 1, 2", M_B),
])
def test_default_modifiers_follow_icws94(src, mod):
    assert assemble(src).instructions[0].modifier == mod


def test_one_operand_forms():
    dat, jmp, spl = assemble("DAT 5\nJMP 2\nSPL @3").instructions
    assert dat == Instruction(DAT, M_F, IMMEDIATE, 0, DIRECT, 5)
    assert jmp == Instruction(JMP, M_B, DIRECT, 2, DIRECT, 0)
    assert spl.opcode == SPL and spl.b_mode == DIRECT and spl.b == 0


def test_cmp_is_seq_and_case_is_ignored():
    a, b = assemble("cmp.ab #1, 2\nSeQ.Ab #1, 2").instructions
    assert a == b and a.opcode == SEQ


def test_all_modes_parse():
    w = assemble("MOV #1, $1\nMOV @1, <1\nMOV >1, *1\nMOV {1, }1")
    modes = [(i.a_mode, i.b_mode) for i in w.instructions]
    assert modes == [(0, 1), (2, 3), (4, 5), (6, 7)]


def test_labels_with_colons_and_on_their_own_line():
    w = assemble("start:\n  MOV 0, 1\nloop: JMP start\nEND start")
    assert w.start == 0 and w.instructions[1].a == 7999


def test_round_trip_through_listing():
    w = assemble("ORG 1\nDAT #1, <-3\nSPL.X }2, {-4\nJMZ.F 1, @-1")
    again = assemble(w.listing())
    assert again.instructions == w.instructions and again.start == w.start


def test_decode_inverts_encode():
    ins = Instruction(MOV, M_I, 3, 17, 6, 42)
    assert decode(ins.code, 17, 42) == ins


@pytest.mark.parametrize("src,needle", [
    ("", "no instructions"),
    ("; only a comment", "no instructions"),
    ("MOV 0, 1, 2", "too many operands"),
    ("MOV 0", "needs two operands"),
    ("ADD", "needs an operand"),
    ("MOV.Q 0, 1", "unknown modifier"),
    ("JMP nowhere", "unknown label 'nowhere'"),
    ("DAT #1/0, 0", "division by zero"),
    ("DAT #(1+2, 0", "missing ')'"),
    ("DAT #1+, 0", "ends too early"),
    ("DAT #__import__('os'), 0", "unexpected character"),
    ("x DAT 0\nx DAT 0", "defined twice"),
    ("a EQU b\nb EQU a\nDAT a, 0", "recursive"),
    ("FOR 3\nDAT 0\nROF", "not supported"),
    ("DAT 0\nEND 5", "outside the warrior"),
    ("DAT #" + "(" * 80 + "1" + ")" * 80 + ", 0", "nested too deeply"),
])
def test_errors_name_the_problem(src, needle):
    with pytest.raises(AssemblyError) as info:
        assemble(src)
    assert needle in str(info.value)


def test_error_carries_the_line_number():
    with pytest.raises(AssemblyError) as info:
        assemble("MOV 0, 1\n\nJMP missing")
    assert info.value.line == 3 and str(info.value).startswith("line 3:")


def test_max_length_is_enforced():
    with pytest.raises(AssemblyError, match="maximum length 100"):
        assemble("DAT 0\n" * 101)
    assert len(assemble("DAT 0\n" * 100)) == 100


def test_non_text_input_is_rejected():
    with pytest.raises(AssemblyError):
        assemble(b"MOV 0, 1")  # type: ignore[arg-type]


def test_expression_parser_never_evaluates_python():
    with pytest.raises(ValueError):
        parse_expression("1 if True else 2")
    with pytest.raises(ValueError):
        parse_expression("2**3")
    assert parse_expression("-(1+2)*x") == ("*", ("neg", ("+", 1, 2)), "x")


def test_opcode_names_cover_the_94_set():
    text = "\n".join(f"{op} 1, 2" for op in (
        "DAT", "MOV", "ADD", "SUB", "MUL", "DIV", "MOD", "JMP", "JMZ", "JMN", "DJN", "SPL",
        "SLT", "CMP", "SEQ", "SNE", "NOP", "LDP", "STP"))
    w = assemble(text)
    assert [i.opcode for i in w.instructions][:2] == [DAT, MOV]
    assert len(w) == 19
