"""Cost table and the model bandit."""
from __future__ import annotations

import random
import warnings

import numpy as np
import pytest

from evoforge.llm import Bandit, cost_usd, price_of
from evoforge.llm.pricing import known_models


def test_prices_for_common_models():
    assert price_of("gpt-4o") == (2.5, 10.0)
    assert price_of("gpt-4o-mini-2024-07-18") == (0.15, 0.6)       # dated id → longest prefix
    assert price_of("claude-sonnet-4-20250514") == (3.0, 15.0)
    assert price_of("openrouter/anthropic/claude-3.5-sonnet") == (3.0, 15.0)  # vendor prefix, dots
    assert price_of("gpt-5-mini") == (0.25, 2.0) and price_of("gpt-5") == (1.25, 10.0)
    for free in ("embedded", "local/x.gguf", "ollama/llama3", "llamacpp/q", "vllm/m"):
        assert price_of(free) == (0.0, 0.0)
    for family in ("gpt-4.1", "o3", "o4-mini", "gemini-2.5-pro", "deepseek-chat", "claude-opus-4"):
        assert family in known_models()


def test_cost_counts_reasoning_once():
    # OpenAI: 1000 completion tokens of which 800 reasoning → billed 1000 output tokens.
    assert cost_usd("o4-mini", 1000, 1000, 800) == pytest.approx((1000 * 1.1 + 1000 * 4.4) / 1e6)
    assert cost_usd("o4-mini", 0, 200, 800, reasoning_included=False) == pytest.approx(1000 * 4.4 / 1e6)


def test_overrides_win():
    assert cost_usd("gpt-4o", 1_000_000, 0, overrides={"gpt-4o": {"input": 1, "output": 1}}) == 1.0
    assert cost_usd("my-model", 0, 1_000_000, overrides={"my-model": (0, 2)}) == 2.0


def test_unknown_model_warns_once():
    with pytest.warns(RuntimeWarning, match="no price known for model 'mystery-1'"):
        assert cost_usd("mystery-1", 10, 10) == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cost_usd("mystery-1", 10, 10) == 0.0


@pytest.mark.parametrize("method", ["ucb1", "thompson"])
@pytest.mark.parametrize("rng", [random.Random(1), np.random.default_rng(1)], ids=["random", "numpy"])
def test_bandit_converges_to_better_arm(method, rng):
    truth = {"strong": 0.7, "weak": 0.3, "awful": 0.05}
    b = Bandit(truth, method)
    env = random.Random(2)
    picks = []
    for _ in range(1500):
        arm = b.choose(rng)
        picks.append(arm)
        b.update(arm, 1.0 if env.random() < truth[arm] else 0.0)
    late = picks[-500:]
    assert late.count("strong") / len(late) > 0.75
    assert max(b.probabilities(), key=b.probabilities().get) == "strong"


def test_bandit_state_roundtrip_and_validation():
    b = Bandit(["a", "b"], "thompson", decay=0.99)
    b.update("a", 1.0)
    b.update("b", 0.2)
    b.update("a", 5.0)  # clipped to 1
    c = Bandit.from_state(b.state())
    assert c.state() == b.state() and c.method == "thompson"
    with pytest.warns(RuntimeWarning, match="unknown arm 'zzz'"):
        b.update("zzz", 1.0)
    with pytest.raises(ValueError):
        b.update("a", float("nan"))
    with pytest.raises(ValueError):
        Bandit([], "ucb1")
    with pytest.raises(ValueError):
        Bandit(["a"], "greedy")


def test_ucb1_tries_each_arm_first():
    b = Bandit(["x", "y", "z"])
    rng = random.Random(0)
    seen = []
    for _ in range(3):
        arm = b.choose(rng)
        seen.append(arm)
        b.update(arm, 0.0)
    assert sorted(seen) == ["x", "y", "z"]
