"""The one MAP-Elites grid (`evoforge.search.map_elites`), as the islands and the Red Queen
behaviour archive use it."""
from __future__ import annotations

import math

from evoforge.arenas.map_elites import BehaviourArchive, Elite
from evoforge.program import Attempt, AttemptStatus
from evoforge.search.map_elites import AddStatus, Axis, Grid, cell_of, log_bin
from evoforge.search.population import Population


def test_both_archives_are_the_same_grid():
    assert isinstance(Population(2, axes=[Axis("x", 0, 1, 2)]).islands[1].grid, Grid)
    assert isinstance(BehaviourArchive().cells, Grid)


def test_add_statuses_and_dict_reading():
    fitness = {"a": 1.0, "b": 0.5, "c": 2.0}
    grid: Grid[str] = Grid(fitness.get)
    assert grid.add((0,), "a", 1.0) is AddStatus.NEW
    assert grid.add((0,), "b", 0.5) is AddStatus.NOT_ADDED
    assert grid.add((0,), "c", 2.0) is AddStatus.IMPROVED
    assert grid.add((1,), "b", 0.5) is AddStatus.NEW
    assert grid == {(0,): "c", (1,): "b"} and grid[(0,)] == "c" and (1,) in grid and (2,) not in grid
    assert grid.get((2,)) is None and list(grid.values()) == ["c", "b"] and len(grid) == 2
    assert grid.qd_score() == 2.5
    grid.clear()
    assert not grid


def test_an_elite_that_left_frees_its_cell_which_keeps_its_place():
    fitness = {"a": 5.0, "b": 1.0, "weak": -3.0}
    grid: Grid[str] = Grid(fitness.get)
    grid.add((0,), "a", 5.0)
    grid.add((1,), "b", 1.0)
    del fitness["a"]                                   # "a" left its owner's archive
    assert grid.qd_score() == 1.0
    assert grid.add((0,), "weak", -3.0) is AddStatus.IMPROVED
    assert list(grid.items()) == [((0,), "weak"), ((1,), "b")]


def test_equal_fitness_does_not_replace_and_nan_never_enters():
    grid: Grid[Elite] = Grid(lambda e: e.fitness)
    first = Elite("first", 0.5, 1, 1)
    grid.add((0, 0), first, first.fitness)
    assert grid.add((0, 0), Elite("same", 0.5, 1, 1), 0.5) is AddStatus.NOT_ADDED
    assert grid.add((0, 0), Elite("nan", math.nan, 1, 1), math.nan) is AddStatus.NOT_ADDED
    assert grid[(0, 0)] is first


def test_axes_linear_and_logarithmic():
    lin = Axis("x", 0, 10, 5)
    assert [lin.bin(v) for v in (-3, 0, 1.99, 2, 9.99, 10, 50)] == [0, 0, 0, 1, 4, 4, 4]
    assert Axis("flat", 1, 1, 4).bin(7) == 0
    log = Axis("spawned", 0, 8000, 8, "log")
    assert [log.bin(v) for v in (0, 0.5, 1, 40, 8000, 10**6)] == [log_bin(v, 8, 8000) for v in (0, 0.5, 1, 40, 8000, 10**6)]
    assert cell_of([lin, log], {"x": 3, "spawned": 1}) == (1, 1)
    assert cell_of([lin], {"y": 3}) is None and cell_of([lin], {"x": "many"}) is None
    assert cell_of([], {"x": 3}) is None and cell_of([lin], None) is None


def test_a_trimmed_owner_gives_its_cell_to_the_next_program():
    def prog(pid, score, size, generation):
        return Attempt(run_id="r", code="x", id=pid, status=AttemptStatus.OK, score=score, generation=generation,
                       metrics={"size": size})

    p = Population(1, archive_size=2, axes=[Axis("size", 0, 3, 3)])
    p.add(prog("c0", 1.0, 0.5, 1))
    p.add(prog("c1", 2.0, 1.5, 2))
    p.add(prog("c2", 3.0, 2.5, 3))        # three owners, room for two: the worst owner, c0, goes
    isl = p.islands[0]
    assert set(isl.members) == {"c1", "c2"} and isl.grid[(0,)] == "c0"
    assert p.grid_snapshot() == {0: {"1": 2.0, "2": 3.0}}
    p.add(prog("low", -5.0, 0.2, 4))      # weaker than c0 was, but c0 is gone: the cell is free
    assert isl.grid[(0,)] == "low" and list(isl.grid) == [(0,), (1,), (2,)]
