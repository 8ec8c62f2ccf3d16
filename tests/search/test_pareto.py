"""Pure parts of many-objective search: dominance, sorting, crowding, exact hypervolume (against
hand-computed values), the per-island front and the front-based selection rules."""
from __future__ import annotations

import math
import random

import pytest

from evoforge.search import selection
from evoforge.search.pareto import (ObjectiveArchive, FrontPoint, ParetoFront, box_volume, crowding_distances,
                                    dominates, front_ranks, hypervolume, hypervolume_contributions, non_dominated,
                                    non_dominated_sort)
from evoforge.search.population import Member, Population


def test_dominance_needs_at_least_as_good_everywhere_and_better_somewhere():
    assert dominates((2, 2), (1, 2))
    assert not dominates((1, 2), (1, 2))          # equal: neither dominates
    assert not dominates((2, 0), (1, 1))          # a trade-off
    assert not dominates((1, 1), (2, 0))
    with pytest.raises(ValueError):
        dominates((1, 2), (1, 2, 3))              # vectors of different lengths are a bug, not "not dominated"


def test_non_dominated_sort_layers_the_fronts():
    pts = [(3, 1), (1, 3), (2, 2), (1, 1), (0, 0), (2, 2), (0, 2)]
    assert non_dominated_sort(pts) == [[0, 1, 2, 5], [3, 6], [4]]
    assert front_ranks(pts) == [0, 0, 0, 1, 2, 0, 1]
    assert non_dominated(pts) == [0, 1, 2, 5]
    assert non_dominated([]) == []


def test_crowding_distance_by_hand():
    # four points on a line: the ends are infinite, the middle ones (2/3 + 2/3) each
    d = crowding_distances([(0, 3), (1, 2), (2, 1), (3, 0)])
    assert d[0] == d[3] == math.inf
    assert d[1] == pytest.approx(4 / 3) and d[2] == pytest.approx(4 / 3)
    # uneven spacing: the point in the wide gap is less crowded
    d = crowding_distances([(0, 10), (1, 9), (9, 1), (10, 0), (5, 5)])
    assert d[4] > d[1] and d[4] > d[2]
    assert crowding_distances([(1, 1), (2, 0)]) == [math.inf, math.inf]
    assert crowding_distances([]) == []


def test_hypervolume_two_objectives_by_hand():
    ref = (0.0, 0.0)
    assert hypervolume([], ref) == 0.0
    assert hypervolume([(2, 3)], ref) == 6.0
    assert hypervolume([(1, 2), (2, 1)], ref) == 3.0                 # 2 + 2 - 1
    assert hypervolume([(1, 3), (2, 2), (3, 1)], ref) == 6.0         # 3 + 2 + 1 staircase
    assert hypervolume([(1, 3), (2, 2), (3, 1), (1, 1)], ref) == 6.0  # a dominated point adds nothing
    assert hypervolume([(2, 2), (2, 2)], ref) == 4.0                 # duplicates count once
    assert hypervolume([(1, 1), (5, -1)], ref) == 1.0                # not better than the reference: nothing
    assert hypervolume([(3, 4)], (1, 1)) == 6.0                      # measured from the reference


def test_hypervolume_three_and_four_objectives_by_hand():
    ref = (0.0, 0.0, 0.0)
    assert hypervolume([(1, 2, 3)], ref) == 6.0
    # three boxes of volume 2 sharing the unit cube pairwise and all together: 6 - 3 + 1
    assert hypervolume([(2, 1, 1), (1, 2, 1), (1, 1, 2)], ref) == 4.0
    assert hypervolume([(2, 2, 2), (1, 1, 1)], ref) == 8.0
    assert hypervolume([(2, 1, 1, 1), (1, 2, 1, 1)], (0, 0, 0, 0)) == 3.0


def test_hypervolume_matches_a_monte_carlo_estimate_in_3d():
    rng = random.Random(3)
    pts = [(rng.random(), rng.random(), rng.random()) for _ in range(12)]
    exact = hypervolume(pts, (0, 0, 0))
    samples = [(rng.random(), rng.random(), rng.random()) for _ in range(40000)]
    hits = sum(1 for s in samples if any(all(p[k] >= s[k] for k in range(3)) for p in pts))
    assert exact == pytest.approx(hits / len(samples), abs=0.01)


def test_contributions_and_box_volume():
    assert hypervolume_contributions([(1, 3), (2, 2), (3, 1)], (0, 0)) == [1.0, 1.0, 1.0]
    assert hypervolume_contributions([(2, 2), (1, 1)], (0, 0)) == [3.0, 0.0]
    assert box_volume((3, 2), (1, 1)) == 2.0
    assert box_volume((3, 1), (1, 1)) == 0.0          # on the reference: no volume


def test_front_keeps_only_non_dominated_points_and_trims_the_most_crowded():
    front = ParetoFront(capacity=3)
    assert front.add(FrontPoint("a", (1.0, 1.0), 1.0, 1)) == "added"
    assert front.add(FrontPoint("b", (0.5, 0.5), 0.2, 2)) == "dominated"
    assert front.add(FrontPoint("c", (1.0, 1.0), 1.0, 3)) == "duplicate"
    assert front.add(FrontPoint("d", (2.0, 2.0), 4.0, 4)) == "added"
    assert set(front.points) == {"d"}                  # "a" is dominated now
    for pid, vec in (("e", (0.0, 5.0)), ("f", (5.0, 0.0)), ("g", (2.2, 1.9))):
        assert front.add(FrontPoint(pid, vec, 0.0, 5)) == "added"
    # four non-dominated points, capacity 3: the extremes stay, the most crowded middle one leaves
    assert len(front) == 3 and {"e", "f"} <= set(front.points)


def _members(island: int, ids: list[str]) -> list[Member]:
    return [Member(pid, 0.0, island, i) for i, pid in enumerate(ids)]


def test_pareto_rule_prefers_the_front_and_reaches_points_the_scalar_archive_trimmed():
    archive = ObjectiveArchive(islands=1)
    vectors = {"front1": (1.0, 5.0), "front2": (5.0, 1.0), "behind": (0.5, 0.5), "trimmed": (6.0, 0.1)}
    for pid, vec in vectors.items():
        archive.add(pid, vec, island=0, fitness=0.0, generation=1)
    rule = selection.create("pareto")
    rule.bind(archive)
    rng = random.Random(0)
    members = _members(0, ["front1", "front2", "behind"])     # "trimmed" left the scalar archive
    picks = [rule.select(members, rng).id for _ in range(400)]
    assert "behind" not in picks          # a tournament of two always meets a point of the front
    assert "trimmed" in picks                                   # still on the front: still a parent
    chosen = next(m for m in (rule.select(members, rng) for _ in range(50)) if m.id == "trimmed")
    assert chosen.island == 0 and chosen.generation == 1


def test_lexicographic_rule_ranks_by_the_first_objective_then_the_next():
    archive = ObjectiveArchive(islands=1)
    for pid, vec in {"a": (2.0, -5.0), "b": (2.0, -1.0), "c": (1.0, 100.0)}.items():
        archive.add(pid, vec, island=0, fitness=vec[0], generation=1)
    rule = selection.create("lexicographic")
    rule.bind(archive)
    rng = random.Random(1)
    picks = [rule.select(_members(0, ["a", "b", "c"]), rng).id for _ in range(600)]
    assert picks.count("b") > picks.count("a") > picks.count("c")   # weights 1, 1/2, 1/3


def test_front_rules_without_objectives_rank_by_the_one_fitness():
    members = [Member(pid, fit, 0, 1) for pid, fit in (("low", 0.0), ("mid", 1.0), ("high", 2.0))]
    rng = random.Random(0)
    picks = [selection.create("pareto").select(members, rng).id for _ in range(300)]
    assert "low" not in picks and picks.count("high") > picks.count("mid")   # a tournament of two on the score
    picks = [selection.create("lexicographic").select(members, rng).id for _ in range(600)]
    assert picks.count("high") > picks.count("mid") > picks.count("low")


def test_front_rules_work_through_the_population():
    archive = ObjectiveArchive(islands=2)
    pop = Population(2, archive_size=10)
    from evoforge.program import Attempt, AttemptStatus
    for i, vec in enumerate([(1.0, 3.0), (3.0, 1.0), (0.0, 0.0)]):
        a = Attempt(run_id="r", code="x", status=AttemptStatus.OK, score=float(i), island=1, generation=1)
        pop.add(a)
        archive.add(a.id, vec, island=1, fitness=float(i), generation=1)
    rule = selection.create("pareto")
    rule.bind(archive)
    parent = pop.select_parent(1, random.Random(2), rule)
    assert parent is not None and archive.vector(parent.id) in {(1.0, 3.0), (3.0, 1.0), (0.0, 0.0)}
