"""`Result`: what a task's trusted `evaluate(candidate)` returns.

Kept deliberately small and plain (JSON-able) because it crosses a process boundary: the
evaluator runs in its own subprocess and sends the Result back as JSON. The constructor does
not police the score (an evaluator may build a Result step by step); the host decides whether
a Result counts (`Result.problem()`), so the reason reaches the user as data instead of as a
crash inside the evaluator.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Union

Metric = Union[float, int, str]


@dataclass
class Result:
    """Score and feedback of one evaluated candidate.

    `score` is the public number the search optimises; `private_score` is an optional held-out
    number (hidden tests / private seeds) that is stored but never shown to the model.
    `feedback` and `artifacts` are text the model may see on the next proposal.
    """

    score: float | None = None
    valid: bool = True
    feedback: str = ""
    metrics: dict[str, Metric] = field(default_factory=dict)
    private_score: float | None = None
    artifacts: dict[str, str] = field(default_factory=dict)

    @classmethod
    def invalid(cls, reason: str, **metrics: Metric) -> "Result":
        """A candidate that ran but does not count (infeasible answer, failed check...)."""
        return cls(score=None, valid=False, feedback=str(reason), metrics=dict(metrics))

    def problem(self) -> str | None:
        """Why this Result cannot be accepted as a valid scored result, or None if it can.

        Only meaningful for `valid=True` results: an invalid Result is a legitimate outcome.
        """
        if not self.valid:
            return None
        return score_problem(self.score, "score")

    def to_json(self) -> dict[str, Any]:
        """Plain dict (floats may be NaN/inf; serialise with ``allow_nan=True``)."""
        return {
            "score": _plain_number(self.score),
            "valid": bool(self.valid),
            "feedback": str(self.feedback),
            "metrics": {str(k): _plain_metric(v) for k, v in self.metrics.items()},
            "private_score": _plain_number(self.private_score),
            "artifacts": {str(k): str(v) for k, v in self.artifacts.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Result":
        """Inverse of `to_json`; unknown keys are an error (they signal a version mismatch)."""
        known = {"score", "valid", "feedback", "metrics", "private_score", "artifacts"}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown Result fields: {sorted(unknown)}")
        return cls(
            score=data.get("score"),
            valid=bool(data.get("valid", True)),
            feedback=str(data.get("feedback", "")),
            metrics=dict(data.get("metrics") or {}),
            private_score=data.get("private_score"),
            artifacts={str(k): str(v) for k, v in (data.get("artifacts") or {}).items()},
        )


def score_problem(value: Any, name: str = "score") -> str | None:
    """Why `value` is not a usable score, or None. bool is rejected: True is not a number."""
    if value is None:
        return f"{name} is missing (None) for a valid Result"
    if (
        isinstance(value, (bool, str, bytes))
        or type(value).__name__ in ("bool_", "bool")  # numpy.bool_ (named "bool" in numpy 2)
        or not hasattr(value, "__float__")
    ):
        return f"{name} is {type(value).__name__}, expected a float"
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        return f"{name} is {type(value).__name__}, expected a float"
    if math.isnan(number):
        return f"{name} is not finite (NaN)"
    if math.isinf(number):
        return f"{name} is not finite ({'+' if number > 0 else '-'}inf)"
    return None


def _plain_number(value: Any) -> Any:
    """numpy scalars and other float-likes become float; anything else is kept as-is so
    that `problem()` can still explain what was wrong with it on the other side."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "__float__"):
        try:
            return float(value)
        except (TypeError, ValueError, OverflowError):
            return repr(value)
    return repr(value)


def _plain_metric(value: Any) -> Metric:
    if isinstance(value, (bool, int, float, str)):
        return value
    if hasattr(value, "item"):  # numpy scalar
        try:
            item = value.item()
            if isinstance(item, (bool, int, float, str)):
                return item
        except (TypeError, ValueError):
            pass
    return _plain_number(value) if hasattr(value, "__float__") else str(value)
