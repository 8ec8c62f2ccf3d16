"""The machinery that lets self-improvement find real gains: AUC fitness, racing against the
incumbent's paired runs, paired seeds, and a numeric policy applied to the inner runs.

The integration tests run real inner engines (no model: zero-cost operators only) on a shipped
numeric tuning task, with strategies run in the real sandbox."""
from __future__ import annotations

import textwrap
from dataclasses import asdict
from pathlib import Path

import pytest

from evoforge.rsi.fitness import (
    InnerTask,
    best_so_far_auc,
    inner_overrides,
    score_strategy,
)
from evoforge.rsi.outer import INITIAL_STRATEGY
from evoforge.rsi.policy import PolicyError, check_policy, operator_weights
from evoforge.rsi.promotion import pair_runs, per_task
from evoforge.rsi.racing import RaceRule, drop_verdict, instance_order, raced_fitness
from evoforge.storage import open_storage
from evoforge.strategy import load_strategy

ROOT = Path(__file__).resolve().parents[2]
NUMERIC = ROOT / "examples" / "self_improve" / "numeric"
TUNE_A = InnerTask(str(NUMERIC / "tasks" / "tune_a"), "tune_a", "minimize")


def test_auc_is_the_mean_of_the_best_so_far_curve():
    # minimise from 10: proposal 1 finds 8 (0.2), 2 fails, 3 finds 9 (no gain), 4 finds 5 (0.5)
    scores = [(1, 8.0), (2, None), (3, 9.0), (4, 5.0)]
    assert best_so_far_auc(10.0, scores, "minimize", 4) == pytest.approx((0.2 + 0.2 + 0.2 + 0.5) / 4)
    # a run that stopped after 4 of 8 proposals keeps its last value: no reward for stopping
    assert best_so_far_auc(10.0, scores, "minimize", 8) == pytest.approx((0.2 * 3 + 0.5 * 5) / 8)
    # finding the same gain earlier scores higher; maximisation is sign-adjusted
    assert best_so_far_auc(2.0, [(1, 3.0)], "maximize", 2) > best_so_far_auc(2.0, [(2, 3.0)], "maximize", 2)


def test_racing_drops_a_clearly_worse_candidate_and_keeps_a_close_one():
    rule = RaceRule(alpha=0.1)
    assert rule.first_check == 4  # 2^-4 ≤ 0.1 < 2^-3
    incumbent = [0.30, 0.20, 0.25, 0.40, 0.35]
    worse = [0.05, 0.02, 0.04, 0.10, 0.01]
    assert drop_verdict(worse[:3], incumbent[:3], rule) is None  # too few pairs to ever be sure
    verdict = drop_verdict(worse[:4], incumbent[:4], rule)
    assert verdict is not None and verdict["after_runs"] == 4 and verdict["p_value"] <= 0.1
    close = [0.31, 0.19, 0.26, 0.39]
    assert drop_verdict(close, incumbent[:4], rule) is None
    better = [0.5, 0.4, 0.45, 0.6]
    assert drop_verdict(better, incumbent[:4], rule) is None
    mean = sum(incumbent) / len(incumbent)
    assert raced_fitness(worse[:4], incumbent[:4], mean) < mean
    assert instance_order(["a", "b"], [0, 1]) == [("a", 0), ("b", 0), ("a", 1), ("b", 1)]


def test_policy_accepts_search_settings_and_refuses_budget_or_bad_values():
    ok = check_policy({"search.islands": 1, "mutation.weights": {"perturb": 1.0}, "search.sharpness": 40.0})
    assert ok["search.islands"] == 1
    for bad in ({"budget.proposals": 1000}, {"seed": 3}, {"evaluator.timeout": 1}, {"llm.models": ["x"]},
                {"search.islands": 0}, {"mutation.weights": {"nonsense": 1.0}}, {"search.islands": 500}, [1]):
        with pytest.raises(PolicyError):
            check_policy(bad)
    # the budget and seed of an inner run are never the strategy's to set
    over = inner_overrides(Path("s.py"), seed=3, inner_budget=0, proposals=7, policy={"search.islands": 1})
    assert over["seed"] == 3 and over["budget.proposals"] == 7 and over["budget.llm_calls"] is None
    assert over["mutation.weights"] == operator_weights() and over["search.islands"] == 1


@pytest.mark.parametrize("path", [INITIAL_STRATEGY, NUMERIC / "strategy_numeric.py"])
def test_shipped_strategies_are_the_default_policy(path):
    strategy = load_strategy(str(path))
    assert strategy.config_overrides() == {}
    weights = {"diff": 0.2, "perturb": 0.33, "swap": 0.03, "block_crossover": 0.07}
    assert strategy.mutation_weights(dict(weights)) == pytest.approx(weights)


def _numeric(**knobs: int) -> str:
    code = (NUMERIC / "strategy_numeric.py").read_text()
    for name, value in knobs.items():
        code = code.replace(f"\n{name} = ", f"\n{name} = {value}  # was ", 1)
    return code


def _runs(score) -> list[dict]:
    return [asdict(r) for r in score.runs]



@pytest.mark.slow
def test_racing_paired_seeds_and_numeric_policy_on_real_inner_runs(tmp_path):
    default = (NUMERIC / "strategy_numeric.py").read_text()
    common = {"llm": None, "inner_budget": 0, "proposals": 8, "fitness": "auc"}
    incumbent = score_strategy(default, [TUNE_A], list(range(7)), **common)
    assert incumbent.failure is None and len(incumbent.runs) == 7
    assert all(r.llm_calls == 0 and r.proposals == 8 for r in incumbent.runs)
    # the race needs a reference that an all-invalid strategy is clearly worse than: the seeds on
    # which the default found some gain in 8 proposals
    incumbent.runs = [r for r in incumbent.runs if r.value > 0][:5]
    seeds = [r.seed for r in incumbent.runs]
    assert len(seeds) == 5, _runs(incumbent)

    # paired seeds: the same strategy gives the same runs, so a difference is the strategy's
    again = score_strategy(default, [TUNE_A], seeds[:2], **common)
    assert [r.value for r in again.runs] == [r.value for r in incumbent.runs[:2]] and again.runs[0].value > 0

    # a strategy that only deletes statements (every child invalid) is raced out after 4 runs
    only_delete = textwrap.dedent('''
        def config_overrides():
            return {"mutation.weights": {"delete": 1.0}}
    ''')
    raced = score_strategy(only_delete, [TUNE_A], seeds, reference=_runs(incumbent), race=RaceRule(alpha=0.1),
                           **common)
    assert raced.failure is None and raced.raced is not None
    assert len(raced.runs) == 4 and raced.raced["after_runs"] == 4
    assert raced.mean < incumbent.mean
    # without racing it would have spent all five runs
    full = score_strategy(only_delete, [TUNE_A], seeds[:1], **common)
    assert full.runs[0].value == 0.0

    # the numeric policy reaches the inner run: one island instead of the default two
    one_island = _numeric(ISLANDS=1)
    score = score_strategy(one_island, [TUNE_A], [0], workdir=tmp_path, keep_runs=True, **common)
    assert score.policy == {"search.islands": 1}
    islands = set()
    for db in tmp_path.rglob("run.db"):
        store = open_storage(f"sqlite:///{db}", read_only=True)
        try:
            for run in store.list_runs():
                islands |= {a.island for a in store.attempts(run.id, with_code=False) if a.mutation != "initial"}
        finally:
            store.close()
    assert islands == {0}
    assert score_strategy(default, [TUNE_A], [0], **common).policy == {}


def test_pairs_use_the_runs_fitness_and_report_per_task():
    def run(task, seed, value, normalised):
        return {"task": task, "seed": seed, "value": value, "normalised": normalised, "best": 1.0, "initial": 2.0}
    pairs = pair_runs([run("a", 0, 0.3, 0.5), run("b", 0, 0.1, 0.2)], [run("a", 0, 0.2, 0.5), run("b", 0, 0.2, 0.1)])
    assert [p["diff"] for p in pairs] == pytest.approx([0.1, -0.1])
    assert pairs[0]["candidate_final"] == 0.5
    summary = per_task(pairs)
    assert summary["a"]["gain"] == pytest.approx(0.1) and summary["b"]["losses"] == 1
    old = [{"task": "a", "seed": 0, "normalised": 0.5, "best": 1.0, "initial": 2.0}]  # recorded before `value`
    assert pair_runs(old, old)[0]["diff"] == 0.0
