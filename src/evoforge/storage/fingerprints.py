"""What the storage keeps per attempt so that a resumed run need not re-read and re-hash code:
the normalized-AST hash and the MinHash signature (schema version 2).

The storage only stores these values; computing them is the novelty filter's job
(`evoforge.search.novelty`). A signature is stored as bytes (little-endian uint64s).
"""
from __future__ import annotations

import json
from typing import Any, NamedTuple

from ..program import AttemptStatus

# The attempts whose normalized AST makes a later proposal a duplicate: everything evaluated
# (whatever the outcome) — the same set the engine indexes while it runs.
EVALUATED_STATUSES = ("ok", "invalid", "error", "timeout", "quarantined")


class FingerprintRow(NamedTuple):
    """One attempt's stored fingerprint; ``ast_hash`` is None where an old database never had
    one computed (the engine then computes it once from the code and stores it)."""

    id: str
    ast_hash: str | None
    minhash: bytes | None
    has_code: bool


_STATUS = {s.value: s for s in AttemptStatus}
RESTORE_COLUMNS = ("id", "parent_id", "island", "generation", "status", "score", "mutation", "model",
                   "proposal_index", "metrics")


class RestoreRow(NamedTuple):
    """The columns of an attempt that rebuilding the population and the budget reads, as a tuple:
    building 100k full `Attempt`s (and parsing their JSON) was most of a resume's time. It reads
    like a light `Attempt` (no code; ``metrics`` parsed only when asked, for MAP-Elites cells)."""

    id: str
    parent_id: str | None
    island: int
    generation: int
    status_value: str
    score: float | None
    mutation: str
    model: str | None
    proposal_index: int
    metrics_json: str | None

    code = None

    @property
    def status(self) -> AttemptStatus:
        return _STATUS[self.status_value]

    @property
    def is_program(self) -> bool:
        return self.status_value == "ok" and self.score is not None

    @property
    def metrics(self) -> dict[str, Any]:
        return json.loads(self.metrics_json) if self.metrics_json else {}
