"""Best-first refinement (ALE-Agent): selection order, exhaustion, ties; the tabu list."""
from __future__ import annotations

import math

import pytest

from evoforge.search.best_first import BestFirstSelector, TabuList, normalise_code


def test_expands_the_best_node_k_times_then_the_next():
    sel = BestFirstSelector(expansions_per_node=3)
    members = [("a", 1.0), ("b", 3.0), ("c", 2.0)]
    picks = [sel.select(members) for _ in range(7)]
    assert picks == ["b", "b", "b", "c", "c", "c", "a"]
    assert sel.expansions("b") == 3 and sel.exhausted("b") and not sel.exhausted("a")


def test_a_new_better_child_is_expanded_first():
    sel = BestFirstSelector(expansions_per_node=2)
    members = [("root", 1.0)]
    assert sel.select(members) == "root"
    members.append(("child", 5.0))  # the refinement improved: go deeper at once
    assert sel.select(members) == "child"
    assert sel.select(members) == "child"
    assert sel.select(members) == "root"


def test_ties_go_to_the_member_listed_first():
    sel = BestFirstSelector(expansions_per_node=1)
    assert [sel.select([("x", 2.0), ("y", 2.0)]) for _ in range(2)] == ["x", "y"]


def test_when_everything_is_expanded_the_least_expanded_best_is_returned():
    sel = BestFirstSelector(expansions_per_node=1)
    members = [("a", 1.0), ("b", 2.0), ("c", 2.0)]
    assert [sel.select(members) for _ in range(3)] == ["b", "c", "a"]
    assert sel.select(members) == "b"  # all exhausted: among the best, fewest expansions
    assert sel.select(members) == "c"


def test_unusable_fitness_is_skipped_and_empty_input_refused():
    sel = BestFirstSelector()
    assert sel.select([("nan", math.nan), ("ok", -5.0)]) == "ok"
    with pytest.raises(ValueError):
        sel.select([])
    with pytest.raises(ValueError):
        BestFirstSelector(expansions_per_node=0)


def test_release_and_state_round_trip():
    sel = BestFirstSelector(expansions_per_node=2)
    sel.select([("a", 1.0)])
    sel.select([("a", 1.0)])
    sel.release("a")
    assert sel.expansions("a") == 1
    again = BestFirstSelector.from_state(sel.state())
    assert again.expansions("a") == 1 and again.expansions_per_node == 2
    sel.release("never-seen")  # harmless


def test_tabu_list_ignores_comments_and_formatting_for_python():
    tabu = TabuList()
    assert not tabu.seen("def f(x):\n    return x + 1\n")
    assert tabu.add("def f(x):\n    return x + 1\n")
    assert tabu.seen("def f(x):  # add one\n\n    return (x + 1)\n")
    assert not tabu.seen("def f(x):\n    return x + 2\n")
    assert not tabu.add("def f(x): return x+1")
    assert len(tabu) == 1 and "def f(x): return x+1" in tabu


def test_tabu_list_for_other_languages_and_broken_python():
    tabu = TabuList(language="cpp")
    tabu.add("int main() {\n  return 0;\n}\n")
    assert tabu.seen("int main() {   \r\n  return 0;\n\n}")
    assert not tabu.seen("int main() {\n  return 1;\n}\n")
    py = TabuList()
    py.add("def broken(:\n")
    assert py.seen("def broken(:   \n\n")
    assert normalise_code("x = 1  # c") == normalise_code("x=1")


def test_tabu_list_forgets_the_oldest_past_its_size():
    tabu = TabuList(max_size=2, language="text")
    for code in ("a", "b", "c"):
        tabu.add(code)
    assert not tabu.seen("a") and tabu.seen("b") and tabu.seen("c")
    tabu.add("b")  # refreshes b
    tabu.add("d")
    assert tabu.seen("b") and not tabu.seen("c")
    restored = TabuList.from_state(tabu.state())
    assert restored.seen("b") and restored.seen("d") and len(restored) == 2
