"""A run that can only spend zero-cost operators needs no model: no provider is built (so none
need be installed or reachable), a strategy that asks for model kinds gets only operators, and a
run that may ask a model still builds (and checks) its provider."""
from __future__ import annotations

import textwrap

import pytest

import evoforge
from evoforge.errors import UserError
from evoforge.storage import open_storage
from evoforge.testing.tasks import write_task

# a model string that cannot be built: if the run tried to build a provider, it would fail
UNBUILDABLE = "nosuchprovider/model"


def _attempts(result):
    store = open_storage(result.storage_url, read_only=True)
    try:
        return store.attempts(result.run_id, with_code=False), store.llm_calls(result.run_id)
    finally:
        store.close()


def test_operator_only_run_builds_no_provider(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOFORGE_MODEL", UNBUILDABLE)
    task = write_task(tmp_path / "task")
    strategy = tmp_path / "strategy.py"
    strategy.write_text(textwrap.dedent('''
        def mutation_weights(weights):
            return {**weights, "diff": 5.0, "full": 5.0}   # asks for model edits the run cannot make
    '''))
    result = evoforge.run(task, run_dir=tmp_path / "run", overrides={
        "budget.proposals": 6, "budget.llm_calls": None, "mutation.weights": {"perturb": 1.0},
        "strategy": str(strategy), "seed": 3})
    attempts, calls = _attempts(result)
    assert {a.mutation for a in attempts} == {"initial", "perturb"}
    assert len(attempts) == 7 and calls == []
    assert result.best is not None and result.best.score > 1.0   # perturb raised VALUE


def test_a_run_that_may_ask_a_model_still_builds_it(tmp_path, monkeypatch):
    monkeypatch.setenv("EVOFORGE_MODEL", UNBUILDABLE)
    task = write_task(tmp_path / "task")
    for weights in ({}, {"perturb": 1.0, "diff": 0.5}):
        with pytest.raises(UserError, match="nosuchprovider"):
            evoforge.run(task, run_dir=tmp_path / f"run{len(weights)}",
                         overrides={"budget.proposals": 2, "mutation.weights": weights})
