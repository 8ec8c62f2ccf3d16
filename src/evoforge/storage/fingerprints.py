"""What the storage keeps per attempt so that a resumed run need not re-read and re-hash code:
the normalized-AST hash and the MinHash signature (schema version 2).

The storage only stores these values; computing them is the novelty filter's job
(`evoforge.search.novelty`). A signature is stored as bytes (little-endian uint64s).
"""
from __future__ import annotations

from typing import NamedTuple

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
