"""Instruction-level semantics on a small core, each expectation worked out by hand."""
from __future__ import annotations

import pytest

from evoforge.arenas import MarsConfig, Simulation, assemble, battle

SMALL = MarsConfig(coresize=64, max_cycles=200, max_processes=8, max_length=20,
                   min_separation=8)


def step(src: str, n: int = 1, config: MarsConfig = SMALL) -> Simulation:
    """Load `src` alone at address 0 and execute `n` instructions."""
    sim = Simulation([assemble(src, coresize=config.coresize)], [0], config=config)
    sim.run(n)
    return sim


def fields(sim: Simulation, addr: int) -> tuple[int, int]:
    ins = sim.instruction(addr)
    return ins.a, ins.b


# -- arithmetic and moves: target cell 2 = (1, 2) or (20, 30), source cell 1 = (5, 7) --------
MOVES = {"A": (5, 2), "B": (1, 7), "AB": (1, 5), "BA": (7, 2), "F": (5, 7), "X": (7, 5),
         "I": (5, 7)}
ADDS = {"A": (6, 2), "B": (1, 9), "AB": (1, 7), "BA": (8, 2), "F": (6, 9), "X": (8, 7),
        "I": (6, 9)}
SUBS = {"A": (60, 2), "B": (1, 59), "AB": (1, 61), "BA": (58, 2), "F": (60, 59),
        "X": (58, 61), "I": (60, 59)}
MULS = {"A": (5, 2), "B": (1, 14), "AB": (1, 10), "BA": (7, 2), "F": (5, 14), "X": (7, 10),
        "I": (5, 14)}
DIVS = {"A": (4, 30), "B": (20, 4), "AB": (20, 6), "BA": (2, 30), "F": (4, 4), "X": (2, 6),
        "I": (4, 4)}
MODS = {"A": (0, 30), "B": (20, 2), "AB": (20, 0), "BA": (6, 30), "F": (0, 2), "X": (6, 0),
        "I": (0, 2)}


@pytest.mark.parametrize("op,table,target", [
    ("MOV", MOVES, "1, 2"), ("ADD", ADDS, "1, 2"), ("SUB", SUBS, "1, 2"),
    ("MUL", MULS, "1, 2"), ("DIV", DIVS, "20, 30"), ("MOD", MODS, "20, 30"),
])
@pytest.mark.parametrize("mod", ["A", "B", "AB", "BA", "F", "X", "I"])
def test_arithmetic_and_move_modifiers(op, table, target, mod):
    sim = step(f"{op}.{mod} $1, $2\nDAT.F #5, #7\nDAT.F #{target.replace(', ', ', #')}")
    assert fields(sim, 2) == table[mod]
    assert sim.processes(0) == [1]


def test_mov_i_copies_opcode_and_modes_but_f_does_not():
    sim = step("MOV.I $1, $2\nSPL.X @5, <7\nDAT.F #1, #2")
    assert str(sim.instruction(2)) == "SPL.X @5, <7"
    sim = step("MOV.F $1, $2\nSPL.X @5, <7\nDAT.F #1, #2")
    assert str(sim.instruction(2)) == "DAT.F #5, #7"


@pytest.mark.parametrize("mod,target,alive", [
    ("A", (20, 30), False), ("B", (20, 4), True), ("AB", (20, 30), False),
    ("BA", (2, 30), True), ("F", (20, 4), False), ("X", (2, 30), False),
    ("I", (20, 4), False),
])
def test_div_by_zero_kills_the_process_after_writing_the_other_half(mod, target, alive):
    # source (0, 7): A-value zero, B-value 7
    sim = step(f"DIV.{mod} $1, $2\nDAT.F #0, #7\nDAT.F #20, #30")
    assert fields(sim, 2) == target
    assert sim.processes(0) == ([1] if alive else [])


def test_mod_by_zero_kills_and_ends_a_lone_warrior():
    sim = step("MOD.B $1, $2\nDAT.F #3, #0\nDAT.F #20, #30", n=5)
    assert sim.finished and sim.result().survivors == []


def test_dat_kills_only_the_executing_process():
    sim = step("SPL 2\nDAT 0\nJMP 0", n=3)  # spl -> [1, 2]; dat at 1 dies; jmp at 2
    assert sim.processes(0) == [2]


# -- jumps and skips --------------------------------------------------------------------------
@pytest.mark.parametrize("op,mod,cell,jumps", [
    ("JMZ", "A", "0, 5", True), ("JMZ", "A", "1, 0", False), ("JMZ", "B", "5, 0", True),
    ("JMZ", "AB", "5, 0", True), ("JMZ", "BA", "0, 5", True), ("JMZ", "F", "0, 5", False),
    ("JMZ", "F", "0, 0", True), ("JMZ", "X", "0, 0", True), ("JMZ", "I", "0, 1", False),
    ("JMN", "A", "1, 0", True), ("JMN", "B", "1, 0", False), ("JMN", "F", "0, 1", True),
    ("JMN", "X", "0, 0", False), ("JMN", "I", "3, 0", True), ("JMN", "BA", "0, 4", False),
])
def test_conditional_jumps(op, mod, cell, jumps):
    sim = step(f"{op}.{mod} $5, $1\nDAT.F #{cell.replace(', ', ', #')}")
    assert sim.processes(0) == ([5] if jumps else [1])


@pytest.mark.parametrize("mod,before,after,jumps", [
    ("A", (2, 1), (1, 1), True), ("A", (1, 1), (0, 1), False), ("B", (2, 1), (2, 0), False),
    ("AB", (2, 5), (2, 4), True), ("BA", (1, 5), (0, 5), False), ("F", (1, 1), (0, 0), False),
    ("F", (1, 2), (0, 1), True), ("X", (2, 1), (1, 0), True), ("I", (0, 1), (63, 0), True),
])
def test_djn_decrements_then_jumps_unless_zero(mod, before, after, jumps):
    sim = step(f"DJN.{mod} $5, $1\nDAT.F #{before[0]}, #{before[1]}")
    assert fields(sim, 1) == after
    assert sim.processes(0) == ([5] if jumps else [1])


@pytest.mark.parametrize("op,mod,a,b,skips", [
    ("SEQ", "A", (3, 1), (3, 2), True), ("SEQ", "B", (3, 1), (4, 1), True),
    ("SEQ", "AB", (3, 1), (9, 3), True), ("SEQ", "BA", (3, 1), (1, 9), True),
    ("SEQ", "F", (3, 1), (3, 2), False), ("SEQ", "X", (3, 1), (1, 3), True),
    ("SEQ", "I", (3, 1), (3, 1), True), ("SNE", "A", (3, 1), (3, 2), False),
    ("SNE", "F", (3, 1), (3, 2), True), ("SNE", "X", (3, 1), (1, 3), False),
    ("SNE", "I", (3, 1), (3, 1), False), ("SLT", "A", (3, 1), (4, 0), True),
    ("SLT", "A", (3, 1), (3, 9), False), ("SLT", "B", (3, 1), (0, 2), True),
    ("SLT", "AB", (3, 1), (0, 4), True), ("SLT", "BA", (3, 1), (2, 0), True),
    ("SLT", "F", (3, 1), (4, 2), True), ("SLT", "F", (3, 1), (4, 1), False),
    ("SLT", "X", (3, 1), (2, 4), True), ("SLT", "I", (3, 1), (9, 9), True),
])
def test_skips(op, mod, a, b, skips):
    sim = step(f"{op}.{mod} $1, $2\nDAT.F #{a[0]}, #{a[1]}\nDAT.F #{b[0]}, #{b[1]}")
    assert sim.processes(0) == ([2] if skips else [1])


def test_seq_i_compares_opcode_modifier_and_modes():
    assert step("SEQ.I $1, $2\nDAT.F #3, #1\nDAT.X #3, #1").processes(0) == [1]
    assert step("SEQ.I $1, $2\nDAT.F #3, #1\nDAT.F $3, #1").processes(0) == [1]
    assert step("SNE.I $1, $2\nDAT.F #3, #1\nDAT.F #3, $1").processes(0) == [2]


def test_spl_queues_next_then_new_and_respects_the_process_limit():
    sim = step("SPL $3\nNOP 0\nNOP 0\nNOP 0")
    assert sim.processes(0) == [1, 3]
    sim = step("SPL 0\nJMP -1", n=50)  # limit 8 processes on SMALL
    assert len(sim.processes(0)) == 8
    assert sim.result().stats[0].max_processes == 8


def test_jmp_and_nop():
    assert step("JMP $7").processes(0) == [7]
    assert step("NOP $7, $9").processes(0) == [1]


# -- addressing modes: MOV.AB #9 into the B-field of the target, pointer cell at 1 -----------
@pytest.mark.parametrize("operand,pointer,target,pointer_after", [
    ("#0", None, 0, None), ("$3", None, 3, None),
    ("@1", (0, 2), 3, (0, 2)), ("*1", (2, 0), 3, (2, 0)),
    ("<1", (0, 3), 3, (0, 2)), (">1", (0, 2), 3, (0, 3)),
    ("{1", (3, 0), 3, (2, 0)), ("}1", (2, 0), 3, (3, 0)),
])
def test_addressing_modes(operand, pointer, target, pointer_after):
    cell = f"DAT.F #{pointer[0]}, #{pointer[1]}" if pointer else "DAT.F #0, #0"
    sim = step(f"MOV.AB #9, {operand}\n{cell}\nDAT.F #0, #0\nDAT.F #0, #0")
    assert sim.instruction(target).b == 9
    if pointer_after:
        assert fields(sim, 1)[0] == pointer_after[0]
        # the pointer's B field may also be the target's (it is not here: target is 3)
        assert fields(sim, 1)[1] == pointer_after[1]


def test_predecrement_wraps_around_the_core():
    sim = step("MOV.AB #9, <1\nDAT.F #0, #0")
    assert fields(sim, 1) == (0, 63) and sim.instruction(0).b == 9  # 1 + 63 = 64 = 0


def test_a_postincrement_is_seen_by_the_b_operand():
    # A: pointer 1 (B=2) -> source 3, then pointer B=3. B: pointer now 3 -> target 4, then 4.
    sim = step("MOV.I >1, >1\nDAT.F #0, #2\nDAT.F #0, #0\nSPL.A #1, #2\nDAT.F #0, #0")
    assert str(sim.instruction(4)) == "SPL.A #1, #2"
    assert fields(sim, 1) == (0, 4)


def test_values_are_read_before_the_post_increment():
    # A-target is the pointer cell itself: the copy sees B=0, the cell then becomes B=1
    sim = step("MOV.I }1, $2\nDAT.F #0, #7\nDAT.F #0, #0")
    assert str(sim.instruction(2)) == "DAT.F #0, #7"
    assert fields(sim, 1) == (1, 7)


# -- P-space, rounds, ties ---------------------------------------------------------------------
def test_pspace_persists_between_rounds_and_slot_zero_holds_the_last_result():
    keeper = assemble("""
        LDP.AB #1, val      ; read slot 1
        ADD.AB #1, val
        STP.B  val, #1      ; write it back + 1
        LDP.AB #0, res      ; last round's result
    loop JMP loop
    val DAT 0
    res DAT 0
    """, coresize=SMALL.coresize)
    result = battle([keeper], rounds=3, config=SMALL)
    assert result.ties(0) == 3  # alone, it survives every round (no winner)
    sim = Simulation([keeper], [0], config=SMALL, pspaces=[[0] * 4], last_results=[1])
    sim.run(8)
    assert sim.instruction(5).b == 1 and sim.instruction(6).b == 1


def test_two_stones_tie_after_exactly_max_cycles():
    wall = assemble("JMP 0")
    result = battle([wall, wall], rounds=2, config=SMALL)
    assert result.ties(0) == result.ties(1) == 2
    assert all(r.cycles == SMALL.max_cycles for r in result.rounds)


def test_a_warrior_that_dies_loses_and_the_other_wins():
    result = battle([assemble("DAT 0"), assemble("JMP 0")], rounds=4, config=SMALL)
    assert (result.wins(1), result.losses(0), result.ties(0)) == (4, 4, 0)
    assert result.score(1) == 1.0 and result.score(0) == 0.0


def test_the_first_mover_alternates_between_rounds():
    result = battle([assemble("JMP 0"), assemble("JMP 0")], rounds=4, config=SMALL)
    assert [r.starter for r in result.rounds] == [0, 1, 0, 1]


def test_positions_respect_the_minimum_separation():
    result = battle([assemble("JMP 0")] * 2, rounds=20, seed=3, config=SMALL)
    for r in result.rounds:
        assert SMALL.min_separation <= r.positions[1] <= SMALL.coresize - SMALL.min_separation
    many = battle([assemble("JMP 0")] * 4, rounds=3, seed=1, config=SMALL)
    for r in many.rounds:
        pos = sorted(r.positions)
        gaps = [(pos[(k + 1) % 4] - pos[k]) % SMALL.coresize for k in range(4)]
        assert min(gaps) >= SMALL.min_separation


def test_battles_are_deterministic_given_a_seed():
    a = battle([assemble("JMP 0"), assemble("MOV 0, 1")], rounds=3, seed=5)
    b = battle([assemble("JMP 0"), assemble("MOV 0, 1")], rounds=3, seed=5)
    assert [r.positions for r in a.rounds] == [r.positions for r in b.rounds]


def test_invalid_battles_are_refused():
    with pytest.raises(ValueError):
        battle([], rounds=1)
    with pytest.raises(ValueError):
        battle([assemble("JMP 0")], rounds=0)
    with pytest.raises(ValueError):
        battle([assemble("JMP 0")] * 2, first_position=5)


def test_per_cycle_statistics():
    sim = Simulation([assemble("MOV 0, 1")], [0], config=SMALL, stats_every=1)
    sim.run(10)
    cycles = [s[0] for s in sim.samples]
    coverage = [s[2][0] for s in sim.samples]
    assert cycles == list(range(10))
    assert coverage == [0] + [k + 1 for k in range(1, 10)]  # executed k cells + wrote k
    assert all(s[1] == (1,) for s in sim.samples)
