"""Restoring a run's in-memory parts from storage at start or resume, without re-reading or
re-hashing code.

Why a module of its own: restore used to read the code of every program and recompute its
normalized-AST hash and MinHash signature (70 s for 100k programs). Now each attempt's
fingerprint is computed once, when it is stored (`NoveltyIndexes.fingerprint_of`), and restore
reads the light rows and the stored signatures only. An old database (schema version 1) has
none: they are computed once, from the code of the attempts that lack them, and stored, so the
next resume is fast too. AST duplicates are found by an indexed query, not an in-memory dict.

`restore_run` is given exactly the parts it fills (population, result guard, novelty indexes)
and returns what the engine needs to continue (`RestoredRun`).
"""
from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field

import numpy as np

from ..program import Attempt
from ..safety import ResultGuard
from ..search.novelty import NoveltyFilter
from ..search.population import Population
from ..storage.base import Storage
from ..storage.fingerprints import EVALUATED_STATUSES
from .budget import Usage
from .gates import NoveltyIndexes


@dataclass
class RestoredRun:
    """What a stored run says about where to continue."""

    next_index: int = 0
    pending: list[Attempt] = field(default_factory=list)   # in flight at a crash: re-evaluated first
    known: set[str] = field(default_factory=set)           # others' attempts already pulled in (shared runs)
    usage: Usage = field(default_factory=Usage)
    best: Attempt | None = None


def restore_run(storage: Storage, run_id: str, *, maximize: bool, population: Population, guard: ResultGuard,
                indexes: NoveltyIndexes, owned: Collection[int], shared: bool) -> RestoredRun:
    """Fill the population, the guard's history and the novelty indexes from storage (a fresh
    run finds nothing) and say where to continue."""
    out = RestoredRun()
    attempts = storage.restore_rows(run_id)   # light tuples: no code, no JSON
    programs: set[str] = set()
    pending_ids: list[str] = []
    for a in attempts:
        out.next_index = max(out.next_index, a.proposal_index + 1)
        if a.status_value == "pending":
            if a.island in owned:  # another controller's in-flight work is its own to finish
                pending_ids.append(a.id)
            continue
        population.add(a)  # type: ignore[arg-type]  (reads like a light Attempt)
        if shared and a.island not in owned:  # only `sync` asks, for others' islands
            out.known.add(a.id)
        if a.status_value == "ok":
            programs.add(a.id)
            if a.score is not None:
                guard.observe_trusted(a.score)
    _restore_novelty(storage, run_id, indexes, programs)
    usage = storage.usage_totals(run_id)
    proposals = sum(1 for a in attempts if a.mutation != "initial" and a.status_value != "pending")
    operators = sum(1 for a in attempts if a.model is None and a.mutation != "initial" and a.status_value != "pending")
    del attempts
    out.usage = Usage(
        llm_calls=int(usage["calls"]), proposals=proposals, operator_proposals=operators,
        cost_usd=float(usage["cost_usd"]), tokens=int(usage["input_tokens"] + usage["output_tokens"]),
        elapsed_s=float(storage.get_state(run_id, "elapsed_s", 0.0) or 0.0),
    )
    best = storage.best_attempts(run_id, 1, maximize=maximize)
    out.best = best[0] if best else None
    # pending attempts (in flight at a crash) are re-evaluated first: their model call was already paid
    pending = [storage.get_attempt(pid) for pid in pending_ids]
    out.pending = [p for p in pending if p is not None]
    return out


def _restore_novelty(storage: Storage, run_id: str, indexes: NoveltyIndexes, programs: set[str]) -> None:
    """Fill the near-duplicate indexes from stored signatures; compute (once, and store) the
    fingerprints an old database lacks."""
    novelty = indexes.novelty
    num_perm = novelty.num_perm
    rows = storage.fingerprints(run_id, EVALUATED_STATUSES)
    size = 8 * num_perm   # a signature made with another number of slots is recomputed
    stale = [r.id for r in rows if r.has_code and (
        r.ast_hash is None or (r.id in programs and (r.minhash is None or len(r.minhash) != size)))]
    fixed: dict[str, tuple[str, bytes | None]] = {}
    if stale:
        from ..search.novelty import signature_bytes

        codes = storage.codes(stale)
        for pid in stale:
            if pid in codes:
                digest = novelty.ast_hash(codes[pid])
                sig = signature_bytes(novelty.signature(codes[pid])) if pid in programs else None
                fixed[pid] = (digest, sig)
        storage.set_fingerprints([(pid, h, sig) for pid, (h, sig) in fixed.items()])
    ids: list[str] = []
    blobs: list[bytes] = []
    for r in rows:
        if r.id not in programs or not r.has_code:
            continue
        blob = fixed[r.id][1] if r.id in fixed else r.minhash
        if blob is not None and len(blob) == size:
            ids.append(r.id)
            blobs.append(blob)
    del rows
    sigs = np.frombuffer(b"".join(blobs), dtype="<u8").astype(np.uint64).reshape(len(ids), num_perm)
    del blobs
    for index in (novelty, indexes.judge):
        if isinstance(index, NoveltyFilter) and index.num_perm == num_perm:
            index.add_signatures(ids, sigs)
    if indexes.embedding is not None:  # embeddings are not stored: the code is needed
        codes = storage.codes(ids)
        for pid in ids:
            try:
                indexes.embedding.add(pid, codes.get(pid))
            except Exception:  # an embedding outage must not stop the run
                pass
