"""Selection strategies, archives, MAP-Elites cells, migration and island restarts, with seeded randomness."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from evoforge.program import Attempt, AttemptStatus
from evoforge.search.kinds import KindPolicy
from evoforge.search.population import Axis, Population


def prog(pid, score, island=0, generation=1, parent=None, **metrics):
    return Attempt(run_id="r", code="x", id=pid, status=AttemptStatus.OK, score=score, island=island,
                   generation=generation, parent_id=parent, metrics=metrics)


def pop_with(scores, islands=1, **kw):
    p = Population(islands, **kw)
    for i, s in enumerate(scores):
        p.add(prog(f"p{i}", s, island=i % islands))
    return p


def picks(p, strategy, n=2000, seed=0, island=0, **kw):
    rng = random.Random(seed)
    return Counter(p.select_parent(island, rng, strategy, **kw).id for _ in range(n))


def test_best_and_hill_climb_pick_the_best():
    p = pop_with([1, 5, 3])
    assert picks(p, "best", 10) == Counter({"p1": 10})
    assert picks(p, "hill_climb", 10) == Counter({"p1": 10})


def test_weighted_prefers_better_and_fewer_children():
    p = pop_with([1, 2, 3, 4, 5])
    c = picks(p, "weighted")
    assert c["p4"] > c["p2"] > c["p0"]
    for _ in range(20):  # p4 gets many children: its weight falls by 1/(1+children)
        p.add(Attempt(run_id="r", code=None, status=AttemptStatus.ERROR, parent_id="p4"))
    c2 = picks(p, "weighted")
    assert c2["p4"] < c["p4"] / 3


def test_weighted_equal_scores_is_uniform_ish():
    c = picks(pop_with([2, 2, 2, 2]), "weighted", 4000)
    assert min(c.values()) > 800


def test_power_law_over_rank():
    c = picks(pop_with([1, 2, 3, 4]), "power_law")
    assert c["p3"] > c["p2"] > c["p1"] > c["p0"]


def test_uniform_and_beam():
    p = pop_with([1, 2, 3, 4, 5, 6])
    assert len(picks(p, "uniform")) == 6
    assert set(picks(p, "beam", beam_width=2)) == {"p4", "p5"}


def test_minimisation_flips_fitness():
    p = pop_with([3, 1, 2], maximize=False)
    assert picks(p, "best", 5) == Counter({"p1": 5})


def test_seeded_selection_is_reproducible():
    p = pop_with([1, 2, 3, 4, 5])
    assert picks(p, "weighted", 100, seed=7) == picks(p, "weighted", 100, seed=7)


def test_archive_is_bounded_and_keeps_the_best():
    p = Population(1, archive_size=5)
    for i in range(50):
        p.add(prog(f"p{i}", float(i % 17)))
    assert len(p.islands[0].members) == 5
    assert p.best().fitness == 16


def test_map_elites_cells_keep_their_owners_when_trimmed():
    p = Population(1, archive_size=3, axes=[Axis("size", 0, 10, 5)])
    p.add(prog("small", 1.0, size=1))       # the only program in cell 0: must survive trimming
    for i in range(10):
        p.add(prog(f"big{i}", 5.0 + i, size=9))
    assert "small" in p.islands[0].members
    assert p.islands[0].grid[(0,)] == "small" and p.islands[0].grid[(4,)] == "big9"
    c = picks(p, "map_elites", 1000)
    assert set(c) <= {"small", "big9"} and c["small"] > 300


def test_map_elites_better_program_takes_the_cell():
    p = Population(1, axes=[Axis("size", 0, 10, 2)])
    p.add(prog("a", 1.0, size=1))
    p.add(prog("b", 2.0, size=2))
    p.add(prog("c", 0.5, size=3))
    assert p.islands[0].grid == {(0,): "b"}


def test_ring_migration_copies_once_without_duplicates():
    p = Population(3)
    p.add(prog("a", 5, island=0))
    p.add(prog("b", 1, island=1))
    moves = p.migrate(random.Random(0))
    assert ("a", 0, 1) in moves and ("b", 1, 2) in moves
    assert "a" in p.islands[1].members
    again = p.migrate(random.Random(0))
    assert ("a", 0, 1) not in again  # already there: not copied twice
    assert sum("a" in isl.members for isl in p.islands) <= 3


def test_stagnant_island_restarts_from_the_global_best():
    p = Population(2)
    p.add(prog("good", 10, island=0))
    p.add(prog("meh", 1, island=1))
    for _ in range(5):
        p.add(Attempt(run_id="r", code="x", status=AttemptStatus.ERROR, island=1))
    assert p.stagnant_islands(5) == [1]
    assert p.reset_island(1) == "good"
    assert list(p.islands[1].members) == ["good"] and p.stagnant_islands(5) == []


def test_inspirations_exclude_parent_and_prefer_island_best():
    p = pop_with([1, 9, 3, 4], islands=1)
    insp = p.inspirations(0, "p1", random.Random(0), 2)
    assert "p1" not in insp and insp[0] == "p3" and len(insp) == 2


def test_kind_policy_learns_what_pays():
    policy = KindPolicy({"diff": 1.0, "perturb": 1.0})
    for _ in range(30):
        policy.update("perturb", valid=True, improved=True)
        policy.update("diff", valid=False, improved=False)
    probs = policy.probabilities()
    assert probs["perturb"] > 0.8 and probs["diff"] >= 0.05  # the floor: never starved
    rng = random.Random(1)
    assert Counter(policy.choose(rng) for _ in range(1000))["perturb"] > 750
    state = policy.state()
    fresh = KindPolicy({"diff": 1.0, "perturb": 1.0})
    fresh.load_state(state)
    assert fresh.probabilities() == probs


def test_kind_policy_respects_allowed_and_prior():
    policy = KindPolicy({"diff": 3.0, "full": 1.0, "perturb": 0.0}, adaptive=False)
    assert set(policy.probabilities()) == {"diff", "full"}
    assert policy.probabilities()["diff"] == pytest.approx(0.75)
    assert policy.choose(random.Random(0), {"full"}) == "full"
    assert policy.choose(random.Random(0), {"perturb"}) is None


def test_best_first_expands_the_best_node_a_fixed_number_of_times():
    p = Population(1, expansions_per_node=2)
    for pid, s in [("a", 1.0), ("b", 5.0), ("c", 3.0)]:
        p.add(prog(pid, s))
    rng = random.Random(0)
    order = [p.select_parent(0, rng, "best_first").id for _ in range(6)]
    assert order == ["b", "b", "c", "c", "a", "a"]
