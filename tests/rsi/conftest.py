"""Fixtures for the self-improvement tests: tiny inner tasks and a scripted model that plays both
the outer model (editing strategies) and the inner one (editing programs)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from evoforge.sandbox import detect_isolation
from evoforge.sandbox.isolation import IsolationLevel
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import write_task

OUTER_EDIT = ('<<<<<<< SEARCH\nLARGE_DIFF_GOAL = "Improve the score"\n=======\n'
              'LARGE_DIFF_GOAL = "Improve the score BOLDLY"\n>>>>>>> REPLACE\n')


def strategy_responder(*, holdout_trap: bool = False):
    """Outer prompts (they show the strategy code) get an edit that adds BOLDLY to the strategy's
    instructions. Inner prompts get +1 per call, +3 when the prompt says BOLDLY; with
    `holdout_trap`, BOLDLY *hurts* on tasks whose description says HOLDOUT."""
    def respond(request: dict) -> str:
        text = "\n".join(m.get("content") or "" for m in request.get("messages", []))
        if "LARGE_DIFF_GOAL" in text:
            return OUTER_EDIT
        found = re.findall(r"VALUE = ([0-9.]+)", text)
        if not found:
            return "I cannot help with that."
        step = 3.0 if "BOLDLY" in text else 1.0
        if holdout_trap and "BOLDLY" in text and "HOLDOUT" in text:
            step = -0.5
        new = float(found[0]) + step + (request.get("seed") or 0) % 7 * 1e-3
        return f"<<<<<<< SEARCH\n    VALUE = {found[0]}\n=======\n    VALUE = {new}\n>>>>>>> REPLACE\n"
    return respond


INNER_SEARCH = "search: {islands: 1}\nmutation: {weights: {diff: 1.0}}\n"  # only the model moves the score


@pytest.fixture
def inner_tasks(tmp_path) -> dict[str, Path]:
    return {
        "a": write_task(tmp_path / "ta", yaml="name: a\ndescription: Make value() return a larger number.\n" + INNER_SEARCH),
        "b": write_task(tmp_path / "tb", yaml="name: b\ndescription: Make value() return a bigger number.\n" + INNER_SEARCH),
        "h": write_task(tmp_path / "th", yaml="name: h\ndescription: HOLDOUT task - make value() larger.\n" + INNER_SEARCH),
    }


@pytest.fixture
def strategy_server():
    with ScriptedOpenAIServer(responder=strategy_responder()) as srv:
        yield srv


@pytest.fixture
def trap_server():
    with ScriptedOpenAIServer(responder=strategy_responder(holdout_trap=True)) as srv:
        yield srv


@pytest.fixture
def bwrap_level():
    level = detect_isolation("auto")
    if level != IsolationLevel.BWRAP:
        pytest.skip("needs bubblewrap: weaker sandboxes let agents and strategies read the file system")
    return level
