"""The contest problems: deterministic generators, strict scorers, the text protocol."""
from __future__ import annotations

import math

import pytest

from evoforge.contest import InvalidOutput
from evoforge.contest.problem import as_int, int_tokens
from evoforge.contest.problems import Placement, Routing
from evoforge.contest.problems.routing import lower_bound, route_length


@pytest.fixture(scope="module")
def routing():
    return Routing()


@pytest.fixture(scope="module")
def placement():
    return Placement()


def one_per_route(instance):
    return [[c] for c in range(len(instance["customers"]))]


# -- routing ---------------------------------------------------------------------------------
def test_routing_instances_are_deterministic_and_in_range(routing):
    a, b = routing.generate(7), routing.generate(7)
    assert a == b and a != routing.generate(8)
    assert 50 <= len(a["customers"]) <= 150
    assert all(0 <= x <= 1000 and 0 <= y <= 1000 and 1 <= d <= 10 for x, y, d in a["customers"])


def test_routing_score_is_lower_bound_over_length(routing):
    inst = routing.generate(3)
    routes = one_per_route(inst)
    total = sum(route_length(inst, r) for r in routes)
    assert routing.score(inst, routes) == round(1e6 * lower_bound(inst) / total)
    assert routing.score(inst, routes) <= 1e6


def test_one_route_per_customer_reaches_the_bound_when_demands_equal_capacity(routing):
    inst = {"capacity": 5, "depot": [0, 0], "customers": [[3, 4, 5], [6, 8, 5]]}
    assert routing.score(inst, [[0], [1]]) == 1_000_000  # 2*5 + 2*10 == LB * 1


@pytest.mark.parametrize("mangle,needle", [
    (lambda r: [[0, 1], [1]] + r[2:], "visited twice"),
    (lambda r: r[1:], "not visited"),
    (lambda r: [[c for route in r for c in route]], "more than the capacity"),
    (lambda r: r[:-1] + [[]], "is empty"),
    (lambda r: [[999]] + r[1:], "not in 0.."),
    (lambda r: r + [[0]], "routes for"),
    (lambda r: [[True]] + r[1:], "must be an integer"),
    (lambda r: [[0.5]] + r[1:], "must be an integer"),
    (lambda r: "routes", "must be a list"),
    (lambda r: [[float("nan")]] + r[1:], "must be an integer"),
])
def test_routing_rejects_broken_answers(routing, mangle, needle):
    inst = routing.generate(2)
    with pytest.raises(InvalidOutput, match=needle):
        routing.score(inst, mangle(one_per_route(inst)))


def test_routing_accepts_integral_floats(routing):
    inst = routing.generate(2)
    routes = [[float(c) for c in r] for r in one_per_route(inst)]
    assert routing.score(inst, routes) > 0


def test_routing_text_protocol(routing):
    inst = routing.generate(4)
    text = routing.format_input(inst)
    first = text.split("\n")[0].split()
    assert int(first[0]) == len(inst["customers"]) and int(first[1]) == inst["capacity"]
    assert routing.parse_output("2\n2 0 1\n1 2\n") == [[0, 1], [2]]
    for bad, needle in [("", "empty output"), ("2\n2 0 1\n", "ends before route 1"),
                        ("1\n3 0 1\n", "announces 3"), ("1\n1 0\n 5", "extra numbers"),
                        ("1\n1 x\n", "not an integer"), ("-1", "bad number")]:
        with pytest.raises(InvalidOutput, match=needle):
            routing.parse_output(bad)


# -- placement -------------------------------------------------------------------------------
def test_placement_instances_are_deterministic_and_fit(placement):
    inst = placement.generate(5)
    assert inst == placement.generate(5)
    assert 20 <= len(inst["rects"]) <= 60
    assert all(min(w, h) >= 1 and max(w, h) <= inst["width"] for w, h in inst["rects"])


def test_placement_perfect_packing_scores_a_million(placement):
    inst = {"width": 10, "rects": [[10, 3], [4, 10], [6, 2]]}
    # first lies at the bottom; second rotated to 10x4 on top; third 6x2 then needs 10 wide
    out = [[0, 0, 0], [0, 3, 1], [0, 7, 0]]
    assert placement.score(inst, out) == round(1e6 * (30 + 40 + 12) / (10 * 9))
    perfect = {"width": 4, "rects": [[2, 2], [2, 2]]}
    assert placement.score(perfect, [[0, 0, 0], [2, 0, 0]]) == 1_000_000


@pytest.mark.parametrize("out,needle", [
    ([[0, 0, 0], [1, 0, 0]], "overlap"),
    ([[0, 0, 0], [3, 0, 0]], "leaves the strip"),
    ([[0, 0, 0], [-1, 5, 0]], "leaves the strip"),
    ([[0, 0, 0], [2, 0, 2]], "r must be 0 or 1"),
    ([[0, 0, 0]], "must have 2 entries"),
    ([[0, 0, 0], [2, 0]], "must have 3 entries"),
    ([[0, 0, 0], [2.5, 0, 0]], "must be an integer"),
    ([[0, 0, 0], [0, 1, 1]], "overlap"),
])
def test_placement_rejects_broken_answers(placement, out, needle):
    inst = {"width": 4, "rects": [[2, 2], [2, 2]]}
    with pytest.raises(InvalidOutput, match=needle):
        placement.score(inst, out)


def test_placement_touching_is_fine_and_rotation_swaps_sides(placement):
    inst = {"width": 5, "rects": [[5, 1], [1, 5]]}
    assert placement.score(inst, [[0, 0, 0], [0, 1, 1]]) == 1_000_000


def test_placement_text_protocol(placement):
    inst = placement.generate(1)
    assert placement.format_input(inst).split("\n")[0] == f"{len(inst['rects'])} {inst['width']}"
    assert placement.parse_output("0 0 1\n2 3 0\n") == [[0, 0, 1], [2, 3, 0]]
    with pytest.raises(InvalidOutput, match="three per rectangle"):
        placement.parse_output("0 0 1 2")


def test_helpers():
    assert as_int(3.0, "x") == 3
    with pytest.raises(InvalidOutput):
        as_int(math.inf, "x")
    with pytest.raises(InvalidOutput):
        as_int("3", "x")
    assert int_tokens(" 1\n-2  3 ") == [1, -2, 3]
