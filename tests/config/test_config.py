"""Strict config: unknown keys name the closest valid key; wrong types name the field and value."""
from __future__ import annotations

import pytest

from evoforge.config import Config, load_config, parse_override
from evoforge.errors import ConfigError


def test_defaults_are_valid():
    cfg = load_config({})
    assert isinstance(cfg, Config) and cfg.direction == "maximize" and cfg.budget.llm_calls == 20


@pytest.mark.parametrize(
    "data, message",
    [
        ({"budjet": {}}, "unknown config key 'budjet'; did you mean 'budget'?"),
        ({"budget": {"llm_call": 3}}, "unknown config key 'budget.llm_call'; did you mean 'llm_calls'?"),
        ({"search": {"islandz": 3}}, "did you mean 'islands'"),
        ({"budget": {"llm_calls": "ten"}}, "budget.llm_calls: expected int | None, got 'ten'"),
        ({"search": {"islands": True}}, "search.islands: expected an integer, got True"),
        ({"direction": "maximise"}, "did you mean 'maximize'"),
        ({"evaluator": {"timeout": -1}}, "evaluator.timeout: must be > 0"),
        ({"mutation": {"weights": {"difff": 1.0}}}, "did you mean 'diff'"),
        ({"mutation": {"weights": {"diff": 0}}}, "at least one kind needs a positive weight"),
        ({"llm": {"models": "openai/x"}}, "llm.models: expected a list"),
        ({"evaluator": {"isolation": "docker"}}, "evaluator.isolation"),
        ({"search": []}, "search: expected a mapping"),
        ({"llm": {"model_options": {"embedded": {"profile": "tiny"}}}},
         "llm.model_options.embedded.profile: 'tiny' is not 'small' or 'large'"),
        ({"llm": {"model_options": {"embedded": 3}}}, "llm.model_options.embedded: expected a mapping"),
        ({"llm": {"model_option": {}}}, "did you mean 'model_options'"),
    ],
)
def test_bad_config(data, message):
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert message in str(info.value)


def test_dotted_overrides():
    cfg = load_config({"budget": {"llm_calls": 5}}, {"budget.llm_calls": 9, "search.islands": 3})
    assert cfg.budget.llm_calls == 9 and cfg.search.islands == 3


def test_override_unknown_key_is_error():
    with pytest.raises(ConfigError, match="did you mean 'islands'"):
        load_config({}, {"search.island": 3})


def test_parse_override():
    assert parse_override("search.islands=3") == ("search.islands", 3)
    assert parse_override("llm.models=[a, b]") == ("llm.models", ["a", "b"])
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_override("nonsense")


def test_int_accepted_for_float():
    assert load_config({"evaluator": {"timeout": 5}}).evaluator.timeout == 5.0
