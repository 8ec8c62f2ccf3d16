"""Proposal kinds have one home, evoforge.mutate.kinds: a kind registered there is accepted by
config validation and proposed by the engine with no other change, and no other module of
evoforge carries its own list of kind names."""
from __future__ import annotations

import ast
import pathlib
import random
import re

import pytest

import evoforge
from evoforge.config import load_config
from evoforge.errors import ConfigError
from evoforge.mutate import kinds
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import increment_responder

SRC = pathlib.Path(evoforge.__file__).resolve().parent
# Modules that may name several kinds together, and why.
ALLOWED = {
    "mutate/kinds.py": "the registry itself",
    "mutate/operators.py": "the operator library, keyed by operator (function) names; kinds point into it",
    "rsi/strategy_initial.py": "a self-contained seed program evolved in a sandbox; it cannot import evoforge",
    "rsi/fitness.py": "a sample weights dict fed to an evolved strategy's smoke check, not a list of kinds",
}


def _bump(code: str, rng: random.Random, other: str | None, language: str) -> str | None:
    """A test-only operator: VALUE += 0.5."""
    m = re.search(r"VALUE = ([0-9.]+)", code)
    return None if m is None else code.replace(m.group(0), f"VALUE = {float(m.group(1)) + 0.5}", 1)


@pytest.fixture
def extra_kinds():
    added = [kinds.register(kinds.ProposalKind("nudge", edit_format=kinds.DIFF, weights={"large": 0.1})),
             kinds.register(kinds.ProposalKind("bump", operator=_bump))]
    yield added
    for k in added:
        kinds.unregister(k.name)


def _attempts(result):
    store = open_storage(result.storage_url, read_only=True)
    try:
        return store.attempts(result.run_id)
    finally:
        store.close()


def test_builtin_kinds_keep_their_order_and_default_weights():
    assert kinds.configurable_names() == ("diff", "tweak", "full", "crossover", "perturb", "swap",
                                          "duplicate", "delete", "block_crossover", "coordinate")
    assert kinds.model_kind_names() == {"diff", "tweak", "full", "crossover", "fix"}
    assert kinds.default_weights("small")["perturb"] == 0.33
    assert abs(sum(kinds.default_weights("large").values()) - 1.0) < 1e-9
    assert kinds.format_of("crossover") is kinds.format_of("full") is kinds.FULL
    assert kinds.format_of("fix") is kinds.DIFF
    assert kinds.resolve("crossover", has_second_parent=False) == "full"


def test_a_registered_kind_is_configurable_with_nearest_key_hints(extra_kinds):
    cfg = load_config({"mutation": {"weights": {"nudge": 1.0, "bump": 2.0}}})
    assert cfg.mutation.weights == {"nudge": 1.0, "bump": 2.0}
    with pytest.raises(ConfigError, match="did you mean 'nudge'"):
        load_config({"mutation": {"weights": {"nudgee": 1.0}}})
    assert kinds.default_weights("large")["nudge"] == 0.1 and "nudge" not in kinds.default_weights("small")
    assert "bump" not in kinds.default_weights("large")  # no prior weight: off unless configured


def test_internal_and_unknown_kinds_are_refused():
    with pytest.raises(ConfigError, match="unknown mutation kind 'mutation.weights.fix'"):
        load_config({"mutation": {"weights": {"fix": 1.0}}})
    with pytest.raises(ValueError):
        kinds.register(kinds.ProposalKind("diff", edit_format=kinds.DIFF))
    with pytest.raises(ValueError, match="exactly one"):
        kinds.ProposalKind("neither")


def test_the_engine_proposes_a_registered_model_kind_and_operator(extra_kinds, value_task, tmp_path):
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        result = evoforge.run(value_task, llm=f"openai/big@{srv.base_url}", budget=8, run_dir=tmp_path / "run",
                              overrides={"mutation.weights": {"nudge": 1.0, "bump": 1.0},
                                         "mutation.fill_idle": False, "search.novelty": False})
    by_kind: dict[str, list] = {}
    for a in _attempts(result):
        by_kind.setdefault(a.mutation, []).append(a)
    assert set(by_kind) <= {"initial", "nudge", "bump"}
    assert by_kind.get("nudge") and by_kind.get("bump")
    assert any(a.is_program for a in by_kind["nudge"]) and any(a.is_program for a in by_kind["bump"])
    assert all(a.model is None for a in by_kind["bump"])      # an operator spends no model call
    assert srv.requests                                     # the model kind asked the model


def _kind_names_in(node: ast.AST, names: set[str]) -> set[str]:
    if isinstance(node, ast.Dict):
        items = node.keys
    elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = node.elts
    else:
        return set()
    return {i.value for i in items if isinstance(i, ast.Constant) and isinstance(i.value, str) and i.value in names}


def test_no_module_outside_the_registry_lists_kind_names():
    names = {k.name for k in kinds.kinds()}
    offenders = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        if rel in ALLOWED:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            found = _kind_names_in(node, names)
            if len(found) >= 2:
                offenders.append(f"{rel}:{node.lineno}: {sorted(found)}")
    assert not offenders, "kind names listed outside evoforge.mutate.kinds:\n" + "\n".join(offenders)


def test_old_config_names_are_computed_from_the_registry(extra_kinds):
    import evoforge.config as config

    assert "nudge" in config.KNOWN_MUTATIONS and "bump" in config.KNOWN_MUTATIONS
    assert config.DEFAULT_WEIGHTS["large"] == kinds.default_weights("large")
    assert config.DEFAULT_WEIGHTS["small"]["block_crossover"] == 0.07


def test_the_operator_kind_runs_its_own_operator_and_the_prompt_follows_the_format(extra_kinds):
    from evoforge.engine.proposer import ParentView, operator_child
    from evoforge.mutate.prompts import build_messages

    code = "# EVOLVE-BLOCK-START\nVALUE = 1.0\n# EVOLVE-BLOCK-END\n"
    draft = operator_child("bump", ParentView("p", code, 1.0), None, random.Random(0), "python")
    assert draft.code is not None and "VALUE = 1.5" in draft.code
    args = dict(task_description="t", parent_code=code, parent_score=1.0, parent_feedback="", inspirations=[],
                insights=[], direction="maximize")
    for profile in ("small", "large"):
        assert build_messages(mode="nudge", profile=profile, **args) == build_messages(mode="diff", profile=profile, **args)
    with pytest.raises(ValueError, match="operator"):
        build_messages(mode="bump", profile="large", **args)
