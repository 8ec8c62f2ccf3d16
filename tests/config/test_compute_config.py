"""The compute keys of issue 15: evaluator.cpu_budget_s and safety.compute_inflation_factor.
Every bad value is refused with the key, what it must be, and the value given."""
from __future__ import annotations

import pytest

import evoforge
from evoforge.config import load_config, parse_override
from evoforge.errors import ConfigError, UserError
from evoforge.testing.tasks import write_task


def test_defaults_no_budget_and_a_tenfold_inflation_flag():
    cfg = load_config({})
    assert cfg.evaluator.cpu_budget_s is None and cfg.safety.compute_inflation_factor == 10.0


def test_good_values_are_kept():
    cfg = load_config({"evaluator": {"cpu_budget_s": 2}, "safety": {"compute_inflation_factor": 4.5}})
    assert cfg.evaluator.cpu_budget_s == 2.0 and isinstance(cfg.evaluator.cpu_budget_s, float)
    assert cfg.safety.compute_inflation_factor == 4.5
    assert load_config({"safety": {"compute_inflation_factor": None}}).safety.compute_inflation_factor is None
    assert load_config({}, {"evaluator.cpu_budget_s": 0.5}).evaluator.cpu_budget_s == 0.5


@pytest.mark.parametrize("data, message", [
    ({"evaluator": {"cpu_budget_s": -1}},
     "evaluator.cpu_budget_s: must be a positive, finite number of CPU seconds (or null for no budget), got -1.0"),
    ({"evaluator": {"cpu_budget_s": 0}}, "evaluator.cpu_budget_s: must be a positive, finite number"),
    ({"evaluator": {"cpu_budget_s": float("nan")}}, "evaluator.cpu_budget_s: must be a positive, finite number"),
    ({"evaluator": {"cpu_budget_s": float("inf")}}, "evaluator.cpu_budget_s: must be a positive, finite number"),
    ({"evaluator": {"cpu_budget_s": "1s"}}, "evaluator.cpu_budget_s: expected float | None, got '1s'"),
    ({"evaluator": {"cpu_budget_s": True}}, "evaluator.cpu_budget_s: expected float | None, got True"),
    ({"evaluator": {"cpu_budget": 1}}, "unknown config key 'evaluator.cpu_budget'; did you mean 'cpu_budget_s'?"),
    ({"safety": {"compute_inflation_factor": 1}},
     "safety.compute_inflation_factor: must be a finite number > 1 (how many times the parent's CPU), "
     "or null to turn the check off; got 1.0"),
    ({"safety": {"compute_inflation_factor": -10}}, "safety.compute_inflation_factor: must be a finite number > 1"),
    ({"safety": {"compute_inflation_factor": float("inf")}}, "safety.compute_inflation_factor: must be a finite"),
    ({"safety": {"compute_inflation_factor": "10x"}}, "safety.compute_inflation_factor: expected float | None, got '10x'"),
    ({"safety": {"compute_inflation": 10}}, "did you mean 'compute_inflation_factor'?"),
])
def test_bad_values_are_clear_errors(data, message):
    with pytest.raises(ConfigError) as info:
        load_config(data)
    assert message in str(info.value)


def test_a_bad_budget_in_task_yaml_stops_the_run_before_anything_runs(tmp_path):
    task = write_task(tmp_path / "t", yaml="name: t\nevaluator:\n  cpu_budget_s: -0.5\n")
    with pytest.raises(UserError, match="evaluator.cpu_budget_s: must be a positive"):
        evoforge.run(task, llm="embedded", budget=0, run_dir=tmp_path / "r")
    assert not (tmp_path / "r" / "run.db").exists()


def test_cli_override_is_read_as_yaml():
    key, value = parse_override("evaluator.cpu_budget_s=0.25")
    assert load_config({}, {key: value}).evaluator.cpu_budget_s == 0.25
    key, value = parse_override("safety.compute_inflation_factor=null")
    assert load_config({}, {key: value}).safety.compute_inflation_factor is None


def test_the_readme_task_yaml_shows_the_compute_keys():
    import re
    from pathlib import Path

    import yaml

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(.*?)```", text.split("A `task.yaml` with every section", 1)[1], re.S).group(1)
    raw = yaml.safe_load(block)
    assert "cpu_budget_s" in raw["evaluator"] and "compute_inflation_factor" in raw["safety"]
    cfg = load_config(raw)
    assert cfg.evaluator.cpu_budget_s is None and cfg.safety.compute_inflation_factor == 10.0
