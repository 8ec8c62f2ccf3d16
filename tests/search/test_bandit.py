"""One bandit (`evoforge.search.bandit`) behind the model chooser, the kind policy and the
prompt archive — and the states runs stored before it was shared still load (runs resume)."""
from __future__ import annotations

import json
import random

import pytest

import evoforge.llm
from evoforge.config import LLMConfig
from evoforge.engine.ensemble import ModelChooser
from evoforge.search.bandit import Bandit
from evoforge.search.kinds import KindPolicy

# what the engine stored under "kinds" before the kind policy used the shared bandit
KINDS_STATE = {
    "diff": {"trials": 12, "reward": 2.3, "improvements": 2, "valid": 4},
    "perturb": {"trials": 30, "reward": 9.45, "improvements": 9, "valid": 12},
    "tweak": {"trials": 3, "reward": 0.0, "improvements": 0, "valid": 0},
}
# and under "models" (the model chooser: its bandit's state, and costs)
MODELS_STATE = {
    "bandit": {"method": "thompson", "c": 1.4142135623730951, "prior": [1.0, 1.0], "decay": 1.0,
               "arms": {"openai/a": {"n": 10.0, "sum": 4.0}, "openai/b": {"n": 5.0, "sum": 0.0}}},
    "cost": {"openai/a": [0.5, 10.0], "openai/b": [0.1, 5.0]},
}


def test_there_is_one_bandit_class():
    assert evoforge.llm.Bandit is Bandit
    assert isinstance(KindPolicy({"diff": 1.0}).bandit, Bandit)
    assert isinstance(ModelChooser(["x", "y"], LLMConfig(models=["x", "y"])).bandit, Bandit)


def test_a_stored_kind_state_loads_and_round_trips():
    weights = {"diff": 2.0, "perturb": 1.0, "tweak": 1.0, "full": 1.0}
    policy = KindPolicy(weights)
    policy.load_state(json.loads(json.dumps({**KINDS_STATE, "gone": {"trials": 5, "reward": 5.0}})))
    state = policy.state()
    assert {k: state[k] for k in KINDS_STATE} == KINDS_STATE
    assert state["full"] == {"trials": 0, "reward": 0.0, "improvements": 0, "valid": 0} and "gone" not in state
    # the chances are the documented ones: weight x (1 + reward) / (2 + trials), mixed with a 10% floor
    stats = {**KINDS_STATE, "full": state["full"]}
    raw = {k: w * (1 + stats[k]["reward"]) / (2 + stats[k]["trials"]) for k, w in weights.items()}
    expected = {k: 0.9 * raw[k] / sum(raw.values()) + 0.1 * weights[k] / sum(weights.values()) for k in weights}
    assert policy.probabilities() == pytest.approx(expected, rel=1e-12)
    again = KindPolicy(weights)
    again.load_state(state)
    assert again.probabilities() == policy.probabilities()


def test_an_older_kind_state_without_some_counters_loads():
    policy = KindPolicy({"diff": 1.0, "perturb": 1.0})
    policy.load_state({"diff": {"trials": 4, "reward": 1.0}})
    assert policy.state()["diff"] == {"trials": 4, "reward": 1.0, "improvements": 0, "valid": 0}
    policy.update("diff", valid=True, improved=False)
    assert policy.state()["diff"] == {"trials": 5, "reward": 1.15, "improvements": 0, "valid": 1}


def test_a_stored_model_chooser_state_loads():
    models = ["openai/a", "openai/b", "openai/c"]
    chooser = ModelChooser(models, LLMConfig(models=models))
    chooser.load_state(json.loads(json.dumps(MODELS_STATE)))
    probs = chooser.bandit.probabilities()
    assert probs["openai/a"] == pytest.approx(5 / 12) and probs["openai/b"] == pytest.approx(1 / 7)
    assert probs["openai/c"] == pytest.approx(0.5)
    restored = Bandit.from_state(MODELS_STATE["bandit"])
    assert restored.state() == MODELS_STATE["bandit"]
    rng = random.Random(3)
    picks = [chooser.choose(rng) for _ in range(3000)]
    assert picks.count("openai/a") > picks.count("openai/b")


def test_restore_keeps_only_the_arms_it_has():
    b = Bandit(["x", "y"], "ucb1")
    b.restore({"x": {"n": 3, "sum": 2}, "z": {"n": 9, "sum": 9}})
    assert b.state()["arms"] == {"x": {"n": 3.0, "sum": 2.0}, "y": {"n": 0.0, "sum": 0.0}}


def test_a_policy_without_kinds_chooses_nothing():
    policy = KindPolicy({"diff": 0.0})
    assert policy.choose(random.Random(0)) is None and policy.state() == {} and policy.probabilities() == {}
    policy.update("diff", valid=True, improved=True)
    policy.load_state(KINDS_STATE)
    assert policy.state() == {}
