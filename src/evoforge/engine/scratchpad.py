"""The meta-scratchpad: every K proposals, what improved, what failed and why, turned into a few
concrete recommendations that go into later prompts (and onto the dashboard).

Two sources. A summary computed from the stored attempts (failure counts and their most common
reasons, which kinds of proposal improved) costs nothing and helps even tiny models avoid repeating
the same crash. When the model is capable (the "large" prompt profile) and the budget allows, the
model also writes recommendations from that summary; that call is stored with purpose
``meta_insight``.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any

from ..program import Attempt, AttemptStatus

MAX_INSIGHTS = 5


def _reason_key(reason: str) -> str:
    """Group reasons that differ only in numbers, names in quotes or line numbers."""
    text = re.sub(r"line \d+", "line N", reason)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"\d+(\.\d+)?", "N", text)
    return text[:140]


def summarize(attempts: list[Attempt], maximize: bool) -> list[str]:
    """Plain-language observations about a window of attempts."""
    if not attempts:
        return []
    out: list[str] = []
    failures = [a for a in attempts if not a.is_program and a.mutation != "initial"]
    by_status = Counter(a.status.value for a in failures)
    if failures:
        parts = ", ".join(f"{n} {s.replace('_', ' ')}" for s, n in by_status.most_common(4))
        out.append(f"Of the last {len(attempts)} proposals {len(failures)} failed ({parts}).")
        common = Counter(_reason_key(a.reason) for a in failures if a.reason).most_common(2)
        for key, n in common:
            if n >= 2:
                example = next(a.reason for a in failures if _reason_key(a.reason) == key)
                out.append(f"Avoid this repeated failure ({n}x): {example[:160]}")
    improved = Counter(a.mutation for a in attempts if a.metrics.get("improved_parent"))
    if improved:
        out.append("Changes that improved a program: " + ", ".join(f"{k} ({n})" for k, n in improved.most_common(3)) + ".")
    elif len(attempts) >= 5:
        out.append("No recent change improved its parent: try a different idea rather than small tweaks.")
    return out


def insight_messages(task_description: str, observations: list[str], best_feedback: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": "You review an automated search that improves a program. Be concrete and brief."},
        {"role": "user", "content": (
            f"Task: {task_description.strip()[:800]}\n\nObservations:\n" + "\n".join(f"- {o}" for o in observations)
            + f"\n\nFeedback on the best program: {best_feedback[:400]}\n\n"
            "Write at most 3 short, concrete recommendations for the next changes, one per line, starting with '- '."
        )},
    ]


def parse_recommendations(text: str) -> list[str]:
    lines = [re.sub(r"^\s*(?:[-*•]|\d+[.)])\s*", "", line).strip() for line in (text or "").splitlines()]
    return [line[:240] for line in lines if len(line) > 12][:3]


class Scratchpad:
    """Holds the run's current insights; the engine asks it when an update is due."""

    def __init__(self, interval: int, storage: Any, run_id: str) -> None:
        self.interval = interval
        self.storage = storage
        self.run_id = run_id
        self.insights: list[str] = []
        self.last_index = 0
        for event in storage.events(run_id, "insight"):
            self.insights = list(event["payload"].get("insights", []))
            self.last_index = int(event["payload"].get("index", 0))

    def due(self, next_index: int) -> bool:
        return self.interval > 0 and next_index - self.last_index >= self.interval

    def update(self, next_index: int, maximize: bool, *, model_call: Any = None, task_description: str = "",
               best_feedback: str = "") -> list[str]:
        window = self.storage.attempts(self.run_id, since_index=max(0, next_index - self.interval), with_code=False)
        observations = summarize(window, maximize)
        recommendations: list[str] = []
        source = "stats"
        if model_call is not None and observations:
            text = model_call(insight_messages(task_description, observations, best_feedback))
            recommendations = parse_recommendations(text or "")
            source = "model" if recommendations else "stats"
        self.insights = (recommendations + observations)[:MAX_INSIGHTS]
        self.last_index = next_index
        self.storage.add_event(self.run_id, "insight", {"index": next_index, "insights": self.insights, "source": source,
                                                        "text": "\n".join(self.insights)})
        return self.insights


__all__ = ["Scratchpad", "summarize", "parse_recommendations", "AttemptStatus"]
