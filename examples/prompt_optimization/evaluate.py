"""Trusted evaluator for prompt optimisation.

The candidate only *writes prompts*: build_prompt() runs in the sandbox for every review and
returns text. The model is called here, in the trusted process, constrained to answer
"positive" or "negative", and the labels never leave this process. The scorer model is the
embedded one unless EVOFORGE_EVAL_MODEL names another (any evoforge model string).
"""
import json
import os
from pathlib import Path

from evoforge import Candidate, Result

REVIEWS = json.loads((Path(__file__).parent / "reviews.json").read_text())            # public: selection
PRIVATE = json.loads((Path(__file__).parent / "reviews_private.json").read_text())   # held out: reported only
GRAMMAR = 'root ::= "positive" | "negative"'
MAX_PROMPT_CHARS = 2000


def _model():
    from evoforge.llm.registry import create_provider

    return create_provider(os.environ.get("EVOFORGE_EVAL_MODEL", "embedded"))


def _accuracy(model, prompts, cases):
    correct, wrong = 0, []
    for prompt, (review, label) in zip(prompts, cases):
        reply = model.complete([{"role": "user", "content": prompt}], temperature=0.0, max_tokens=3,
                               seed=0, grammar=GRAMMAR)
        if reply.text.strip().lower().startswith(label):
            correct += 1
        else:
            wrong.append(review[:40])
    return correct / len(cases), wrong


def evaluate(candidate: Candidate) -> Result:
    cases = REVIEWS + PRIVATE  # one sandbox call; the candidate cannot tell which reviews are held out
    prompts = candidate.call("build_all", [r for r, _ in cases], timeout=20, cpu_budget_s=5)
    if not isinstance(prompts, list) or len(prompts) != len(cases) or not all(isinstance(p, str) for p in prompts):
        return Result.invalid("build_prompt() must return a string for every review")
    if any(len(p) > MAX_PROMPT_CHARS for p in prompts):
        return Result.invalid(f"a prompt is longer than {MAX_PROMPT_CHARS} characters")
    if any(review not in p for p, (review, _) in zip(prompts, cases)):
        return Result.invalid("every prompt must contain the review it asks about")
    model = _model()
    public, wrong = _accuracy(model, prompts[: len(REVIEWS)], REVIEWS)
    private, _ = _accuracy(model, prompts[len(REVIEWS):], PRIVATE)
    return Result(score=public, private_score=private,
                  feedback=f"accuracy {public:.2f} on {len(REVIEWS)} reviews; misclassified: {'; '.join(wrong[:3]) or 'none'}",
                  metrics={"accuracy": public})
