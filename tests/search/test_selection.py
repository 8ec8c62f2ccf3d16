"""Parent-selection rules are one registry of small classes: config, population and engine read it."""
from __future__ import annotations

import random
from collections import Counter

import pytest

from evoforge.config import load_config
from evoforge.errors import ConfigError
from evoforge.program import Attempt, AttemptStatus
from evoforge.search import selection
from evoforge.search.population import Member, Population


def _members(fitnesses: list[float]) -> list[Member]:
    return [Member(f"p{i}", f, 0, generation=i) for i, f in enumerate(fitnesses)]


def test_every_configurable_name_is_a_registered_rule():
    names = selection.names()
    assert {"weighted", "power_law", "hill_climb", "best", "uniform", "beam", "map_elites", "best_first"} <= set(names)
    assert selection.get("best") is selection.get("hill_climb")          # an alias, not a second rule
    for name in names:
        assert load_config({"search": {"parent_selection": name}}).search.parent_selection == name


def test_unknown_rule_is_a_config_error_naming_the_nearest():
    with pytest.raises(ConfigError, match=r"search.parent_selection: 'beem'.*did you mean 'beam'"):
        load_config({"search": {"parent_selection": "beem"}})
    with pytest.raises(KeyError, match="did you mean 'uniform'"):
        selection.create("unifrom")


def test_rules_choose_as_documented():
    rng = random.Random(0)
    members = _members([0.1, 0.9, 0.5, 0.9])
    assert selection.create("hill_climb").select(members, rng).id == "p3"      # best, youngest among equals
    beam = Counter(selection.create("beam", selection.SelectionSettings(beam_width=2)).select(members, rng).id
                   for _ in range(200))
    assert set(beam) == {"p1", "p3"}
    elites = [members[0]]
    assert {selection.create("map_elites").select(members, rng, elites=elites).id for _ in range(20)} == {"p0"}
    weighted = Counter(selection.create("weighted").select(members, rng).id for _ in range(2000))
    assert weighted["p1"] > weighted["p2"] > weighted["p0"]
    power = Counter(selection.create("power_law").select(members, rng).id for _ in range(2000))
    assert power["p0"] < power["p2"]
    tree = selection.create("best_first", selection.SelectionSettings(expansions_per_node=2))
    assert [tree.select(members, rng).id for _ in range(5)] == ["p1", "p1", "p3", "p3", "p2"]


def test_a_new_rule_is_one_class_and_the_population_and_config_use_it():
    @selection.register
    class Youngest(selection.ParentSelector):
        name = "test_youngest"

        def select(self, members, rng, *, elites=()):
            return max(members, key=lambda m: m.generation)

    try:
        assert load_config({"search": {"parent_selection": "test_youngest"}}).search.parent_selection == "test_youngest"
        pop = Population(1)
        for i, score in enumerate([5.0, 1.0, 3.0]):
            pop.add(Attempt(run_id="r", code="x", id=f"a{i}", status=AttemptStatus.OK, score=score, generation=i))
        assert pop.select_parent(0, random.Random(0), "test_youngest").id == "a2"
        with pytest.raises(ValueError, match="already registered"):
            selection.register(type("Clash", (Youngest,), {"name": "weighted"}))
    finally:
        selection.unregister("test_youngest")
    with pytest.raises(ConfigError):
        load_config({"search": {"parent_selection": "test_youngest"}})


def test_stateful_rules_keep_their_state_between_calls_of_the_population():
    pop = Population(1, expansions_per_node=1)
    for i, score in enumerate([1.0, 2.0]):
        pop.add(Attempt(run_id="r", code="x", id=f"a{i}", status=AttemptStatus.OK, score=score, generation=i))
    rng = random.Random(0)
    assert [pop.select_parent(0, rng, "best_first").id for _ in range(2)] == ["a1", "a0"]
