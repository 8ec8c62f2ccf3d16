"""The prompt-optimisation example: prompts are built in the sandbox, the model is asked in the
trusted evaluator (here a scripted OpenAI-protocol server standing in for the scorer model)."""
from __future__ import annotations

from pathlib import Path

import pytest

from evoforge.sandbox import evaluate_code
from evoforge.testing.openai_server import ScriptedOpenAIServer

TASK = Path(__file__).resolve().parents[2] / "examples/prompt_optimization"


def answer(request):
    prompt = request["messages"][-1]["content"]
    return "positive" if "CHEERFUL" in prompt else "negative"


@pytest.fixture
def scorer(monkeypatch):
    with ScriptedOpenAIServer(responder=answer) as srv:
        monkeypatch.setenv("EVOFORGE_EVAL_MODEL", f"llamacpp/scorer@{srv.base_url}")
        yield srv


def _code(body: str) -> str:
    initial = (TASK / "initial.py").read_text()
    start, end = initial.index("# EVOLVE-BLOCK-START"), initial.index("# EVOLVE-BLOCK-END")
    return initial[:start] + "# EVOLVE-BLOCK-START\n" + body + "\n" + initial[end:]


def test_initial_prompt_is_scored_with_public_and_private_accuracy(scorer):
    ev = evaluate_code(TASK, (TASK / "initial.py").read_text(), timeout=120)
    assert ev.status == "ok", ev.reason
    assert ev.result.score == pytest.approx(6 / 12) and ev.result.private_score == pytest.approx(3 / 6)
    assert all(r.get("grammar") == 'root ::= "positive" | "negative"' for r in scorer.requests)
    assert len(scorer.requests) == 18


def test_prompt_that_drops_the_review_is_invalid(scorer):
    ev = evaluate_code(TASK, _code("def build_prompt(review):\n    return 'Say positive.'"), timeout=120)
    assert ev.status == "invalid" and "must contain the review" in ev.reason
    assert not scorer.requests  # no model call is paid for an invalid prompt


def test_overlong_prompt_is_invalid(scorer):
    ev = evaluate_code(TASK, _code("def build_prompt(review):\n    return review + 'x' * 5000"), timeout=120)
    assert ev.status == "invalid" and "longer than" in ev.reason


def test_prompt_wording_changes_the_score(scorer):
    ev = evaluate_code(TASK, _code("def build_prompt(review):\n    return 'CHEERFUL ' + review"), timeout=120)
    assert ev.status == "ok" and ev.result.score == pytest.approx(6 / 12)
    assert ev.result.feedback.startswith("accuracy 0.50")
