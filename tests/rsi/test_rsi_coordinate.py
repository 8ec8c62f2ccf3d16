"""The no-model outer run's coordinate screen (evoforge.mutate.coordinate): every knob is tried one
level up and down before anything is combined, then the moves that paid are combined and
extended; the held-out gate stays the same paired sign-flip test at the same α.

The integration test runs a real `self_improve` (real outer and inner engines, no model, the
shipped tuning tasks, strategies in the real sandbox) with a two-knob strategy."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from evoforge.mutate import kinds as kind_registry
from evoforge.mutate.coordinate import KIND, Scored, knobs, next_values, screen_moves, vector, with_values
from evoforge.rsi.outer import SelfImproveOptions, self_improve
from evoforge.rsi.stats import paired_permutation_test
from evoforge.storage import open_storage

ROOT = Path(__file__).resolve().parents[2]
NUMERIC = ROOT / "examples" / "self_improve" / "numeric"

TWO_KNOBS = '''\
"""A two-knob numeric strategy (the coordinate screen's test)."""
# EVOLVE-BLOCK-START
STEP_LEVEL = 4           # mutation.perturb_scale = 0.1 * 2 ** (STEP_LEVEL - 4)
ISLANDS = 2              # search.islands
# EVOLVE-BLOCK-END
OUTSIDE = 7


def config_overrides():
    out = {}
    if STEP_LEVEL != 4:
        out["mutation.perturb_scale"] = 0.1 * 2.0 ** (STEP_LEVEL - 4)
    if ISLANDS != 2:
        out["search.islands"] = max(1, int(ISLANDS))
    return out
'''


def test_knobs_are_the_block_numbers_and_the_screen_moves_each_one_level_both_ways():
    code = (NUMERIC / "strategy_numeric.py").read_text()
    names = [k.name for k in knobs(code)]
    assert names == ["ISLANDS", "SELECTION", "SELECTION_LEVEL", "MIGRATION_LEVEL", "STEP_LEVEL", "PERTURB_LEVEL",
                     "SWAP_LEVEL", "DUPLICATE_LEVEL", "DELETE_LEVEL", "CROSSOVER_LEVEL"]
    base = vector(code)
    moves = screen_moves(base)
    moved = [(name, m[name] - base[name]) for m in moves for name in base if m[name] != base[name]]
    assert len(moved) == len(moves)              # each move changes exactly one knob
    expected = [(n, d) for n in names for d in (1, -1) if not (n == "SELECTION" and d == -1)]  # 0 never goes negative
    assert moved == expected and ("STEP_LEVEL", 1) in moved
    assert "OUTSIDE" not in vector(TWO_KNOBS)    # outside the evolve block: not a knob
    child = with_values(TWO_KNOBS, {"STEP_LEVEL": 5})
    assert vector(child) == {"STEP_LEVEL": 5, "ISLANDS": 2}
    assert child.replace("STEP_LEVEL = 5", "STEP_LEVEL = 4") == TWO_KNOBS  # only the literal changed
    assert vector(with_values("# EVOLVE-BLOCK-START\nX = 0.5\n# EVOLVE-BLOCK-END\n", {"X": 0.25})) == {"X": 0.25}


def test_screen_then_combine_then_extend_then_nothing():
    base = Scored({"A": 4, "B": 2, "C": 0}, 0.10)
    order = []
    tried: list[Scored] = []
    gains = {("A", 5): 0.05, ("B", 1): 0.02}   # A up and B down pay; every other move loses
    while (nxt := next_values(base, tried)) is not None and len(order) < 20:
        phase, values = nxt
        order.append((phase, values))
        moved = {(k, v) for k, v in values.items() if v != base.values[k]}
        score = 0.10 + sum(gains.get(m, -0.01) for m in moved)
        if phase == "extend":
            score = 0.0                            # the extension does not pay: the search stops extending
        tried.append(Scored(values, score))
    phases = [p for p, _ in order]
    assert phases == ["screen"] * 5 + ["combine", "extend"]
    assert [v for _, v in order[:5]] == [{"A": 5, "B": 2, "C": 0}, {"A": 3, "B": 2, "C": 0}, {"A": 4, "B": 3, "C": 0},
                                        {"A": 4, "B": 1, "C": 0}, {"A": 4, "B": 2, "C": 1}]
    assert order[5][1] == {"A": 5, "B": 1, "C": 0}
    assert order[6][1] == {"A": 6, "B": 0, "C": 0}     # the pattern move: one more level each way that paid
    # a base that did not score cannot be combined: only the screen is proposed
    assert next_values(Scored({"A": 4}, None), [Scored({"A": 5}, 1.0), Scored({"A": 3}, 1.0)]) is None


def test_a_combination_that_loses_is_followed_by_greedy_additions_from_the_best_single_move():
    """A and B interact (together they lose), C helps on top of A: the search keeps A, rejects
    A+B, keeps A+C, then extends the leader (A+C) one more level each way."""
    base = Scored({"A": 4, "B": 4, "C": 4}, 0.10)
    single = {("A", 5): 0.30, ("B", 5): 0.20, ("C", 5): 0.15}

    def score(values):
        moved = {(k, v) for k, v in values.items() if v != base.values[k]}
        if {("A", 5), ("B", 5)} <= moved:
            return 0.05                            # the interaction
        if moved == {("A", 5), ("C", 5)}:
            return 0.40
        return max([single.get(m, 0.09) for m in moved], default=0.10)

    tried: list[Scored] = []
    order = []
    while (nxt := next_values(base, tried)) is not None and len(order) < 20:
        phase, values = nxt
        order.append((phase, values))
        tried.append(Scored(values, score(values) if phase != "extend" else 0.0))
    assert [p for p, _ in order] == ["screen"] * 6 + ["combine", "add", "add", "extend"]
    assert order[6][1] == {"A": 5, "B": 5, "C": 5}            # everything that paid: loses (0.05)
    assert order[7][1] == {"A": 5, "B": 5, "C": 4}            # best single (A) + next best (B): loses
    assert order[8][1] == {"A": 5, "B": 4, "C": 5}            # A + C: kept (0.40)
    assert order[9][1] == {"A": 6, "B": 4, "C": 6}            # the pattern move from the leader


def test_a_combination_that_wins_skips_the_greedy_additions():
    base = Scored({"A": 4, "B": 4}, 0.10)
    tried = [Scored({"A": 5, "B": 4}, 0.2), Scored({"A": 3, "B": 4}, 0.0), Scored({"A": 4, "B": 5}, 0.15),
             Scored({"A": 4, "B": 3}, 0.0), Scored({"A": 5, "B": 5}, 0.3)]
    assert next_values(base, tried) == ("extend", {"A": 6, "B": 6})


def test_the_kind_is_registered_and_off_by_default():
    assert KIND in kind_registry.configurable_names()
    assert KIND not in kind_registry.default_weights("small") and KIND not in kind_registry.default_weights("large")


@pytest.mark.slow
def test_the_outer_run_screens_every_knob_first_and_the_gate_is_unchanged(tmp_path):
    initial = tmp_path / "two_knobs.py"
    initial.write_text(TWO_KNOBS)
    tasks = NUMERIC / "tasks"
    opts = SelfImproveOptions(tasks=[str(tasks / "tune_a")], holdout=[str(tasks / "tune_d")], out=str(tmp_path / "out"),
                              inner_budget=0, inner_proposals=6, seeds=1, holdout_seeds=5, outer_budget=0,
                              outer_proposals=6, initial=str(initial), race_alpha=None)
    assert opts.outer_search == "screen" and opts.alpha == 0.05
    report = self_improve(opts)
    store = open_storage(report.storage_url, read_only=True)
    try:
        attempts = sorted(store.attempts(report.run_id), key=lambda a: a.proposal_index)
        config = store.get_run(report.run_id).config
    finally:
        store.close()
    assert config["mutation"]["weights"] == {KIND: 1.0} and config["search"]["parent_selection"] == "hill_climb"
    assert attempts[0].mutation == "initial" and all(a.mutation == KIND for a in attempts[1:])
    base = vector(attempts[0].code)
    screened = [vector(a.code) for a in attempts[1:5]]
    assert screened == screen_moves(base) == [{"STEP_LEVEL": 5, "ISLANDS": 2}, {"STEP_LEVEL": 3, "ISLANDS": 2},
                                              {"STEP_LEVEL": 4, "ISLANDS": 3}, {"STEP_LEVEL": 4, "ISLANDS": 1}]
    assert all(a.score is not None for a in attempts[:5])  # every screened strategy was scored
    assert len({json.dumps(vector(a.code), sort_keys=True) for a in attempts}) == len(attempts)  # nothing twice

    # the gate: the same one-sided paired sign-flip test at α = 0.05 on the held-out pairs
    p = report.promotion
    if p["status"] == "rejected" and not p.get("holdout"):
        assert "no strategy beat the incumbent" in p["reason"]
        return
    pairs = p["holdout"]
    assert len(pairs) == 5 and {x["task"] for x in pairs} == {"tune_d"}
    again = paired_permutation_test([x["candidate"] for x in pairs], [x["incumbent"] for x in pairs], alpha=0.05)
    assert p["test"]["alpha"] == 0.05 and p["test"]["p_value"] == again.p_value and p["test"]["n"] == 5
    assert p["status"] == ("promoted" if again.accepted else "rejected")
