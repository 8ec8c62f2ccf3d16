"""Strategies are programs: the default strategy written out, and strategies run in the sandbox."""
from __future__ import annotations

import random
from pathlib import Path

import pytest

from evoforge.mutate import prompts
from evoforge.mutate.blocks import find_blocks
from evoforge.rsi.outer import INITIAL_STRATEGY
from evoforge.rsi.sandboxed import (
    SandboxedStrategy,
    StrategyFailed,
    check_strategy_source,
)
from evoforge.strategy import load_strategy

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "self_improve" / "strategy_initial.py"
CODE = '"""x"""\n\n# EVOLVE-BLOCK-START\ndef value():\n    VALUE = 1.0\n    return VALUE\n# EVOLVE-BLOCK-END\n'


def _contexts():
    base = dict(task_description="Make value() larger.", parent_code=CODE, parent_score=1.0, parent_feedback="value 1",
                inspirations=[{"code": CODE, "score": 0.5, "feedback": "ok"}], insights=["try more"],
                direction="maximize", failure_note="it failed")
    for profile in ("small", "large"):
        for mode in ("diff", "full", "crossover", "fix"):
            for direction in ("maximize", "minimize"):
                yield {**base, "profile": profile, "mode": mode, "direction": direction,
                       "other_parent_code": CODE if mode == "crossover" else None}
    yield {**base, "profile": "small", "mode": "diff", "parent_code": "x = 1\n", "inspirations": [], "failure_note": None,
           "other_parent_code": None, "parent_feedback": ""}


def test_example_is_the_shipped_initial_strategy():
    assert EXAMPLE.read_text() == INITIAL_STRATEGY.read_text()
    assert len(find_blocks(INITIAL_STRATEGY.read_text())) >= 4


def test_initial_strategy_loads_and_equals_the_default():
    strategy = load_strategy(str(EXAMPLE))
    for ctx in _contexts():
        assert strategy.build_messages(**ctx) == prompts.build_messages(**ctx)
    msgs = prompts.build_messages(**next(_contexts()))
    for reply in ("<<<<<<< SEARCH\n_demo_total", "some other reply"):
        assert strategy.retry_messages(msgs, reply, "why") == prompts.retry_messages(msgs, reply, "why")
    assert strategy.mutation_weights({"diff": 0.5, "perturb": 0.2}) == {"diff": 0.5, "perturb": 0.2}
    assert [strategy.temperature(0.7, r) for r in range(5)] == [min(1.5, 0.7 + 0.25 * r) for r in range(5)]
    cands = [{"id": "a", "fitness": 2.0}, {"id": "b", "fitness": 1.0}]
    assert strategy.choose_inspirations(cands, 1, random.Random(0)) == ["a"]
    assert check_strategy_source(EXAMPLE.read_text()) == []


def test_sandboxed_strategy_gives_the_same_answers():
    with SandboxedStrategy.from_file(EXAMPLE) as s:
        ctx = next(_contexts())
        assert s.build_messages(**ctx) == prompts.build_messages(**ctx)
        assert s.mutation_weights({"diff": 1.0}) == {"diff": 1.0}
        assert s.temperature(0.7, 1) == pytest.approx(0.95)
        assert s.choose_inspirations([{"id": "x", "fitness": 1.0}], 2, random.Random(1)) == ["x"]
        assert s.failures == []


@pytest.mark.parametrize("body, why", [
    ("def build_messages(**context):\n    raise RuntimeError('boom')\n", "boom"),
    ("def build_messages(**context):\n    return 'not a list'\n", "non-empty list"),
    ("def mutation_weights(weights):\n    return {'teleport': 1.0}\n", "unknown kind"),
    ("def temperature(base, repeats):\n    while True:\n        pass\n", "timed out"),
])
def test_a_broken_strategy_fails_clearly(body, why):
    # only the endless loop may meet the timeout; the others fail on their own however slow the machine
    with SandboxedStrategy(body, timeout=3 if why == "timed out" else 120) as s:
        with pytest.raises(StrategyFailed, match=why):
            s.build_messages(**next(_contexts()))
            s.mutation_weights({"diff": 1.0})
            s.temperature(0.7, 0)


def test_strategy_in_the_sandbox_cannot_see_the_evaluator_or_the_database(tmp_path, bwrap_level):
    secret = tmp_path / "evaluate.py"
    secret.write_text("SECRET = 42\n")
    db = tmp_path / "run.db"
    db.write_bytes(b"database")
    # pathlib passes the static gate's lint; the sandbox is what stops it
    cheat = (f"import pathlib\n\ndef build_messages(**context):\n"
             f"    pathlib.Path({str(db)!r}).write_bytes(b'pwned')\n"
             f"    return [{{'role': 'user', 'content': pathlib.Path({str(secret)!r}).read_text()}}]\n")
    with SandboxedStrategy(cheat) as s:
        with pytest.raises(StrategyFailed, match="FileNotFoundError|No such file|PermissionError|Read-only"):
            s.build_messages(**next(_contexts()))
    assert db.read_bytes() == b"database" and secret.read_text() == "SECRET = 42\n"


def test_static_gate_rejects_imports_and_cheating_patterns():
    assert check_strategy_source("import os\n")
    assert check_strategy_source("import subprocess\nsubprocess.run(['ls'])\n")
    assert any("opens" in p for p in check_strategy_source("def f():\n    return open('/etc/passwd').read()\n"))
    assert check_strategy_source("def f(:\n")
    assert check_strategy_source("import re\nimport random\n") == []


def test_default_fallback_records_the_failure():
    with SandboxedStrategy("def temperature(base, repeats):\n    return 1/0\n", on_failure="default") as s:
        assert s.temperature(0.7, 0) == pytest.approx(0.7)
        assert "ZeroDivisionError" in s.failures[0]
