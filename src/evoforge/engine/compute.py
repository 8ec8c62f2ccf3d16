"""What each attempt's evaluation cost, on the attempt, and what the engine does with it.

The measured cost (`Evaluation.cost`, a `CallCost` summed over cascade stages) is stored with
every evaluated attempt under ``metrics["compute"]`` (``wall_s``, ``cpu_s``, ``peak_memory_mb``,
``calls``), whether or not the evaluator reported anything: an existing JSON column, so both
storage backends keep it without a schema change, and `show`, `export` and the dashboard read it
from there. It is written after the evaluator's metrics, so a metric the evaluator happened to
call "compute" cannot stand in for the measurement.

A child that improved with far more CPU than its parent is flagged (`safety.compute`): an
``alert`` event for `evoforge audit`, ``metrics["compute_inflation"]``, and a note prepended to
its feedback when its children's prompts are built (`feedback_for`).
"""
from __future__ import annotations

from typing import Any

from ..program import Attempt
from ..safety.compute import compute_inflation
from ..sandbox import CallCost, Evaluation
from ..storage.base import Storage

COST_KEY = "compute"
INFLATION_KEY = "compute_inflation"


def record_cost(attempt: Attempt, evaluation: Evaluation) -> None:
    """Store the evaluation's measured cost on the attempt (nothing when none was measured)."""
    if evaluation.cost is not None:
        attempt.metrics[COST_KEY] = evaluation.cost.to_json()
    else:
        attempt.metrics.pop(COST_KEY, None)


def cost_of(attempt: Attempt) -> CallCost | None:
    """The stored cost of an attempt, or None (not evaluated, older run, unreadable)."""
    data = (attempt.metrics or {}).get(COST_KEY)
    try:
        return CallCost.from_json(data) if isinstance(data, dict) else None
    except ValueError:
        return None


def flag_inflation(attempt: Attempt, improved: bool, storage: Storage, threshold: float | None) -> str | None:
    """Flag `attempt` when it improved on its parent with more than `threshold` times the
    parent's CPU: record it in its metrics and as an alert; return the alert message."""
    if not improved or threshold is None or not attempt.parent_id:
        return None
    mine = cost_of(attempt)
    parent = storage.get_attempt(attempt.parent_id)
    theirs = cost_of(parent) if parent is not None else None
    if mine is None or theirs is None:
        return None
    flag = compute_inflation(mine.cpu_s, theirs.cpu_s, threshold)
    if flag is None:
        return None
    message = flag.message(attempt.id)
    attempt.metrics[INFLATION_KEY] = {**flag.to_json(), "note": flag.note()}
    storage.add_event(attempt.run_id, "alert", {"kind": "compute_inflation", "id": attempt.id, "message": message,
                                                **flag.to_json()})
    return message


def feedback_for(attempt: Attempt, feedback: str) -> str:
    """The feedback a prompt shows for `attempt` as a parent: the compute note first (small
    models' prompts keep only the start of the feedback), then the evaluator's."""
    note = ((attempt.metrics or {}).get(INFLATION_KEY) or {}).get("note")
    if not note:
        return feedback
    return f"{note}\n{feedback}" if feedback else str(note)


def summed(costs: list[CallCost | None]) -> CallCost | None:
    """Costs of several evaluations (cascade stages) together; None when none was measured."""
    known = [c for c in costs if c is not None]
    if not known:
        return None
    total = known[0]
    for c in known[1:]:
        total = total + c
    return total


def describe(attempt: Attempt) -> str | None:
    """One line for `evoforge show`, or None when no cost is stored."""
    cost = cost_of(attempt)
    if cost is None:
        return None
    text = f"compute: {cost.describe()}"
    flag: dict[str, Any] = (attempt.metrics or {}).get(INFLATION_KEY) or {}
    if flag:
        text += f"  [compute inflation: {flag.get('ratio', 0):,.0f}× the parent's CPU]"
    return text
