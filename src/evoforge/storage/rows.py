"""The row codec both backends share: how an `Attempt`, a run, an LLM call and an event become
column values and come back.

Why one codec: the backends must store the same values (a non-finite score is no score, NaN
inside metrics survives as text, inspiration ids are a JSON list) and read them back the same
way; written twice, the two copies drift. A backend only adds what its database needs on top
(PostgreSQL replaces NUL characters, which its TEXT cannot hold).
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from ..program import Attempt, LLMCallRecord
from .base import RunInfo
from .schema import ATTEMPTS, LLM_CALLS

# Schema version 2: kept out of ATTEMPT_COLUMNS (an Attempt does not carry them), written by
# `save_attempt(fingerprint=…)` and `set_fingerprints`, read by `fingerprints`.
FINGERPRINT_COLUMNS = ("ast_hash", "minhash")
ATTEMPT_COLUMNS = tuple(c.name for c in ATTEMPTS.columns if c.name not in FINGERPRINT_COLUMNS)
# What a listing reads without the large text of each attempt.
HEAVY_COLUMNS = ("code", "prompt", "response", "stdout", "stderr", "diff")
LIGHT_COLUMNS = tuple(c for c in ATTEMPT_COLUMNS if c not in HEAVY_COLUMNS)
# Columns whose values are free text from the model or the candidate.
TEXT_COLUMNS = ("feedback", "reason", "diff", "prompt", "response", "stdout", "stderr", "code", "mutation", "model")
LLM_CALL_COLUMNS = tuple(c.name for c in LLM_CALLS.columns if c.kind != "identity")


def finite_or_none(x: float | None) -> float | None:
    """A score as stored: NaN and infinities are no score at all (they would poison ordering)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def safe_json(value: Any) -> str:
    """Strict JSON where possible; NaN/inf inside (metrics) kept as JS-style literals, never lost."""
    if value is None:
        return "null"
    try:
        return json.dumps(value, default=str, allow_nan=False)
    except ValueError:
        return json.dumps(value, default=str)


def attempt_values(attempt: Attempt, fingerprint: tuple[str, bytes | None] | None = None) -> dict[str, Any]:
    """Every column of the attempt's row, fingerprint columns included (None when not given)."""
    d = attempt.to_dict()
    d["score"] = finite_or_none(attempt.score)
    d["private_score"] = finite_or_none(attempt.private_score)
    d["metrics"] = safe_json(attempt.metrics)
    d["inspiration_ids"] = json.dumps(attempt.inspiration_ids)
    values = {c: d[c] for c in ATTEMPT_COLUMNS}
    values["ast_hash"], values["minhash"] = fingerprint or (None, None)
    return values


def attempt_from_row(row: Mapping[str, Any]) -> Attempt:
    """An Attempt from a row of ATTEMPT_COLUMNS or LIGHT_COLUMNS (missing large text reads as empty)."""
    d = dict(row)
    for missing in HEAVY_COLUMNS:
        d.setdefault(missing, None if missing == "code" else "")
    d["metrics"] = json.loads(d["metrics"]) if d.get("metrics") else {}
    d["inspiration_ids"] = json.loads(d["inspiration_ids"]) if d.get("inspiration_ids") else []
    return Attempt.from_dict(d)


def run_values(info: RunInfo) -> dict[str, Any]:
    return {"id": info.id, "name": info.name, "created_at": info.created_at, "config": safe_json(info.config),
            "task_path": info.task_path, "meta": safe_json(info.meta)}


def run_from_row(row: Mapping[str, Any]) -> RunInfo:
    return RunInfo(id=row["id"], name=row["name"], created_at=row["created_at"], config=json.loads(row["config"]),
                   task_path=row["task_path"], meta=json.loads(row["meta"]))


def llm_call_values(record: LLMCallRecord) -> dict[str, Any]:
    return {c: getattr(record, c) for c in LLM_CALL_COLUMNS}


def llm_call_from_row(row: Mapping[str, Any]) -> LLMCallRecord:
    return LLMCallRecord(**{c: row[c] for c in LLM_CALL_COLUMNS})


def usage_from_row(calls: Any, input_tokens: Any, output_tokens: Any, reasoning_tokens: Any, cost: Any) -> dict[str, float]:
    """Totals with the same types on every backend (PostgreSQL's SUM(bigint) is NUMERIC)."""
    return {"calls": int(calls), "input_tokens": int(input_tokens), "output_tokens": int(output_tokens),
            "reasoning_tokens": int(reasoning_tokens), "cost_usd": float(cost)}


def event_from_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "created_at": row["created_at"], "kind": row["kind"], "payload": json.loads(row["payload"])}
