"""Classic warrior types (written for these tests, in tests/arenas/warriors) on the '94 core,
with behaviour worked out by hand."""
from __future__ import annotations

from pathlib import Path

import pytest

from evoforge.arenas import Simulation, assemble, battle

WARRIORS = Path(__file__).parent / "warriors"


@pytest.fixture(scope="module")
def w():
    return {p.stem: assemble(p.read_text()) for p in WARRIORS.glob("*.red")}


def test_imp_walks_one_cell_per_cycle(w):
    sim = Simulation([w["imp"]], [0])
    sim.run(100)
    assert all(str(sim.instruction(k)) == "MOV.I $0, $1" for k in range(101))
    assert str(sim.instruction(101)) == "DAT.F $0, $0"
    assert sim.processes(0) == [100]
    assert sim.coverage(0) == 101  # executed 0..99, wrote 1..100


def test_two_imps_tie_for_the_full_80000_cycles(w):
    result = battle([w["imp"], w["imp"]], rounds=1, first_position=4000)
    assert result.ties(0) == 1 and result.rounds[0].cycles == 80_000


def test_dwarf_bombs_every_fourth_cell_and_never_itself(w):
    sim = Simulation([w["dwarf"]], [0])
    sim.run(3 * 50)
    for j in range(1, 51):
        assert sim.instruction(4 * j).signed(8000) == f"DAT.F #0, #{4 * j}"
    assert sim.instruction(4 * 51).b == 0  # not bombed yet
    sim.run()  # alone for the whole round
    assert sim.result().survivors == [0]


def test_dwarf_kills_a_sitting_duck_on_schedule(w):
    # the duck at 400 is hit by the 100th bomb, dropped by the dwarf's 299th instruction
    result = battle([w["dwarf"], assemble("JMP 0")], first_position=400)
    assert result.rounds[0].winner == 0
    assert result.rounds[0].stats[1].died_at == 299


def test_paper_copies_itself_and_multiplies(w):
    paper = w["paper"]
    sim = Simulation([paper], [0])
    sim.run(20)
    for k in range(1, 7):  # start..jmz copied to 833..838 (dest + 826)
        assert sim.instruction(832 + k) == sim.instruction(k)
    assert sorted(sim.processes(0)) == [1, 835]  # the copy is already running
    sim.run(4000)
    stats = sim.result().stats[0]
    assert stats.spawned > 50 and stats.max_processes > 20 and stats.coverage > 500


def test_scanner_finds_and_bombs_a_target(w):
    # ptr looks at 21 + 7k; a duck at 1001 is seen at the 140th look and bombed right after
    duck = assemble("JMP.B 0, #1")
    result = battle([w["scanner"], duck], first_position=1001)
    r = result.rounds[0]
    assert r.winner == 0 and r.stats[1].died_at == 281


def test_stone_spawns_processes_and_bombs(w):
    sim = Simulation([w["stone"]], [0])
    sim.run(2000)
    stats = sim.result().stats[0]
    assert stats.spawned > 10 and stats.coverage > 300


def test_dwarf_never_hits_cells_off_its_stride(w):
    # bombs land on multiples of 4 from the dwarf's own position: a duck at 402 survives
    result = battle([w["dwarf"], assemble("JMP 0")], first_position=402)
    assert result.ties(0) == 1


def test_battle_behaviour_summary(w):
    result = battle([w["paper"], w["imp"]], rounds=2, seed=0)
    summary = result.summary(0)
    assert summary["rounds"] == 2
    assert summary["wins"] + summary["ties"] + summary["losses"] == 2
    assert summary["spawned"] > 0 and summary["coverage"] > 0
