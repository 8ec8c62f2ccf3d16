"""A scripted research model for the tests: it answers each kind of request the research loop
and the engine make (ideas, edits, discussions, reviews) from the prompt, over the real local
OpenAI-protocol server, and can be told to misbehave (bad JSON first, invented numbers, a
hostile program as its edit)."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "research_topic"

GRID_THEN_LOCAL = '''\
"""Grid, then a shrinking local search (40 queries exactly)."""


# EVOLVE-BLOCK-START
def search(f, budget, seed):
    n = 16
    points = [-10.0 + 20.0 * i / (n - 1) for i in range(n)]
    values = [f(x) for x in points]
    used = n
    k = min(range(n), key=values.__getitem__)
    x, best, step = points[k], values[k], 20.0 / (n - 1)
    while used < budget:
        moved = False
        for c in (x - step, x + step):
            if used >= budget:
                break
            if -10.0 <= c <= 10.0:
                v = f(c)
                used += 1
                if v < best:
                    x, best, moved = c, v, True
                    break
        if not moved:
            step /= 2.0
    return best
# EVOLVE-BLOCK-END
'''

IDEA = {"title": "Golden-section search inside the best grid bracket",
        "hypothesis": "After a coarse grid finds the main valley, golden-section search shrinks the bracket fastest.",
        "planned_change": "Query a grid, take the bracket around the best point and run golden-section search in it.",
        "expected_effect": "Lower mean gap than random sampling.",
        "interestingness": 6, "feasibility": 8, "novelty": 5}

REVIEW = {"summary": "The report compares a grid-then-local search with random sampling on fresh seeds.",
          "strengths": ["numbers are cited by attempt id", "paired comparison on fresh seeds"],
          "weaknesses": ["only a few seeds"], "soundness": 7, "novelty": 4, "overall": 6, "confidence": 3}


def fenced(code: str) -> str:
    return f"Here is the new program.\n```python\n{code}\n```\n"


class ScriptedResearchModel:
    """`responder` for ScriptedOpenAIServer. Counters say what was asked; `bad_first` replies
    with broken JSON to the first N form requests; `invent` makes the discussion cite a number
    that no evaluation produced; `program` is the full rewrite every edit request gets."""

    def __init__(self, *, program: str = GRID_THEN_LOCAL, idea: dict[str, Any] | None = None, bad_first: int = 0,
                 invent: str | None = None) -> None:
        self.program, self.idea, self.bad_first, self.invent = program, idea or IDEA, bad_first, invent
        self.asked: dict[str, int] = {}
        self.prompts: list[str] = []

    def _count(self, kind: str) -> None:
        self.asked[kind] = self.asked.get(kind, 0) + 1

    def __call__(self, request: dict[str, Any]) -> str:
        text = "\n".join(m.get("content") or "" for m in request.get("messages", []))
        self.prompts.append(text)
        for marker, kind in (("RESEARCH IDEA FORM", "idea"), ("RESEARCH META-REVIEW FORM", "meta"),
                             ("RESEARCH REVIEW FORM", "review")):
            if marker in text:
                self._count(kind)
                if self.bad_first > 0:
                    self.bad_first -= 1
                    return '{"title": "unterminated'
                return json.dumps(self.idea if kind == "idea" else REVIEW)
        if "RESEARCH DISCUSSION" in text:
            self._count("discussion")
            values = re.findall(r"^- idea mean over \d+ fresh seeds: (\S+)", text, flags=re.MULTILINE)
            base = re.findall(r"^- baseline mean over \d+ fresh seeds: (\S+)", text, flags=re.MULTILINE)
            cited = f"The idea reached a mean gap of {values[0] if values else 'n/a'} against {base[0] if base else 'n/a'} for the baseline."
            if self.invent:
                cited += f" It is {self.invent} times better than any published method."
            return cited + " Next, try more seeds."
        self._count("edit")
        return fenced(self.program)


def copy_topic(tmp: Path, *, yaml_extra: str = "", template_code: str | None = None) -> Path:
    """The example topic, copied (so a test may change it), with small budgets for speed."""
    topic = shutil.copytree(EXAMPLE, tmp / "topic", ignore=shutil.ignore_patterns("__pycache__"))
    (topic / "research.yaml").write_text(
        "ideas: 0\nreflections: 1\nseeds: 2\nreviewers: 2\nreview_reflections: 1\nablate_max: 2\n"
        "draft: {llm_calls: 1, proposals: 1, weights: {full: 1.0}}\n"
        "debug: {llm_calls: 1, proposals: 1, weights: {full: 1.0}}\n"
        "tune: {llm_calls: 0, proposals: 0, weights: {perturb: 1.0}}\n" + yaml_extra)
    if template_code is not None:
        (topic / "template" / "initial.py").write_text(template_code)
    return topic
