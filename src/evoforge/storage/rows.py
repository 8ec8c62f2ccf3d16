"""The row codec both backends share: how an `Attempt`, a run, an LLM call and an event become
column values and come back.

Why one codec: the backends must store the same values (a non-finite score is no score, NaN
inside metrics survives as text, inspiration ids are a JSON list) and read them back the same
way; written twice, the two copies drift. A backend only adds what its database needs on top
(PostgreSQL replaces NUL characters, which its TEXT cannot hold).
"""
from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..bundle import BundleError, is_bundle, pack, unpack
from ..errors import StorageError
from ..program import Attempt, LLMCallRecord
from .base import RunInfo
from .schema import ATTEMPTS, LLM_CALLS

# Schema version 2: kept out of ATTEMPT_COLUMNS (an Attempt does not carry them), written by
# `save_attempt(fingerprint=…)` and `set_fingerprints`, read by `fingerprints`.
FINGERPRINT_COLUMNS = ("ast_hash", "minhash")
# Schema version 3: a folder program's manifest ({path: content hash}, JSON) instead of `code`.
MANIFEST_COLUMN = "files"
ATTEMPT_COLUMNS = tuple(c.name for c in ATTEMPTS.columns if c.name not in (*FINGERPRINT_COLUMNS, MANIFEST_COLUMN))
# What a full read selects: the Attempt's columns and the manifest its code may be rebuilt from.
READ_COLUMNS = (*ATTEMPT_COLUMNS, MANIFEST_COLUMN)
# What a listing reads without the large text of each attempt.
HEAVY_COLUMNS = ("code", "prompt", "response", "stdout", "stderr", "diff", MANIFEST_COLUMN)
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


def blob_hash(text: str) -> str:
    """The content hash a file is stored under (sha256 of its UTF-8 bytes, hex)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def split_code(code: str | None) -> tuple[str | None, str | None, dict[str, str]]:
    """(code column, manifest column, {hash: file text}) for an attempt's code.

    A folder program (a bundle) is stored as a manifest and its files by hash, so a file that is
    the same in a thousand attempts is one row; any other code stays in the `code` column."""
    if code is None or not is_bundle(code):
        return code, None, {}
    try:
        files = unpack(code)
    except BundleError:   # not a well-formed bundle after all (a model's text): kept as it is
        return code, None, {}
    blobs = {blob_hash(text): text for text in files.values()}
    manifest = json.dumps({path: blob_hash(text) for path, text in files.items()})
    return None, manifest, blobs


def manifest_hashes(rows: Iterable[Mapping[str, Any]]) -> set[str]:
    """Every content hash the manifests of these rows name (what to read from `blobs`)."""
    out: set[str] = set()
    for row in rows:
        manifest = row.get(MANIFEST_COLUMN)
        if manifest:
            out.update(json.loads(manifest).values())
    return out


def code_from_manifest(manifest: str, blobs: Mapping[str, str]) -> str:
    """The bundle text a manifest stands for, byte for byte as it was saved."""
    files: dict[str, str] = {}
    for path, digest in json.loads(manifest).items():
        if digest not in blobs:
            raise StorageError(f"the stored program lacks its file {path} (content {digest[:12]} is not in blobs)")
        files[path] = blobs[digest]
    return pack(files)


def attempt_row(attempt: Attempt, fingerprint: tuple[str, bytes | None] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """(every column of the attempt's row, the file blobs it needs stored first): the fingerprint
    columns are None when not given; a folder program's code is its manifest (`split_code`)."""
    d = attempt.to_dict()
    d["score"] = finite_or_none(attempt.score)
    d["private_score"] = finite_or_none(attempt.private_score)
    d["metrics"] = safe_json(attempt.metrics)
    d["inspiration_ids"] = json.dumps(attempt.inspiration_ids)
    values = {c: d[c] for c in ATTEMPT_COLUMNS}
    values["code"], values[MANIFEST_COLUMN], blobs = split_code(attempt.code)
    values["ast_hash"], values["minhash"] = fingerprint or (None, None)
    return values, blobs


def attempt_values(attempt: Attempt, fingerprint: tuple[str, bytes | None] | None = None) -> dict[str, Any]:
    """Every column of the attempt's row (see `attempt_row`, which also gives the blobs)."""
    return attempt_row(attempt, fingerprint)[0]


def attempt_from_row(row: Mapping[str, Any], blobs: Mapping[str, str] | None = None) -> Attempt:
    """An Attempt from a row of READ_COLUMNS or LIGHT_COLUMNS (missing large text reads as empty);
    a row with a manifest gets its code back from `blobs` (those `manifest_hashes` named)."""
    d = dict(row)
    manifest = d.pop(MANIFEST_COLUMN, None)
    for missing in HEAVY_COLUMNS:
        if missing != MANIFEST_COLUMN:
            d.setdefault(missing, None if missing == "code" else "")
    if manifest:
        d["code"] = code_from_manifest(manifest, blobs or {})
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
