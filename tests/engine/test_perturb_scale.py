"""mutation.perturb_scale: the step size of the zero-cost perturb operator, from config to the
operator (a numeric-policy knob of self-improvement), strictly validated."""
from __future__ import annotations

import inspect
import math
import random
import re

import pytest

import evoforge
from evoforge.config import load_config
from evoforge.errors import ConfigError
from evoforge.mutate import kinds
from evoforge.mutate.constants import perturb_constants
from evoforge.storage import open_storage
from evoforge.testing.tasks import VALUE_TASK_INITIAL, write_task


def test_default_is_the_operators_own():
    assert load_config({}).mutation.perturb_scale == inspect.signature(perturb_constants).parameters["scale"].default


@pytest.mark.parametrize("bad, message", [(0, "> 0"), (-0.5, "> 0"), (math.inf, "finite"), ("big", "expected a number"),
                                          (True, "expected a number")])
def test_bad_values_are_clear_errors(bad, message):
    with pytest.raises(ConfigError, match=rf"mutation.perturb_scale: .*{re.escape(message)}"):
        load_config({}, {"mutation.perturb_scale": bad})


def _value(code: str) -> float:
    return float(re.search(r"VALUE = ([0-9.e+-]+)", code).group(1))


def test_the_scale_reaches_perturb_and_only_scaled_kinds():
    perturb = kinds.get("perturb")
    moves = {}
    for scale in (0.001, 1.0):
        children = [perturb.run_operator(VALUE_TASK_INITIAL, random.Random(seed), None, "python", scale)
                    for seed in range(20)]
        moves[scale] = sum(abs(math.log(_value(c))) for c in children if c) / 20
    assert moves[1.0] > 50 * moves[0.001]
    seen = []
    plain = kinds.ProposalKind("probe_only", operator=lambda code, rng, other, language: seen.append(language))
    plain.run_operator("x = 1\n", random.Random(0), None, "python", 0.5)   # a kind that is not scaled gets no scale
    assert seen == ["python"]


def _steps(tmp_path, scale: float) -> list[float]:
    task = write_task(tmp_path / f"task{scale}")
    result = evoforge.run(task, run_dir=tmp_path / f"run{scale}", overrides={
        "budget.proposals": 8, "budget.llm_calls": None, "mutation.weights": {"perturb": 1.0},
        "mutation.perturb_scale": scale, "search.islands": 1, "seed": 5})
    store = open_storage(result.storage_url, read_only=True)
    try:
        attempts = {a.id: a for a in store.attempts(result.run_id)}
    finally:
        store.close()
    return [abs(math.log(_value(a.code) / _value(attempts[a.parent_id].code)))
            for a in attempts.values() if a.mutation == "perturb" and a.code and a.parent_id in attempts]


def test_a_run_perturbs_with_the_configured_scale(tmp_path):
    small, large = _steps(tmp_path, 0.01), _steps(tmp_path, 1.0)
    assert small and large
    assert max(small) < 0.1 < max(large)
    assert sum(large) / len(large) > 10 * sum(small) / len(small)
