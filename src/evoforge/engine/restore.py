"""Restoring a run's in-memory parts from storage at start or resume, without re-reading or
re-hashing code, and without replaying the whole run.

Why a module of its own: restore used to read the code of every program and recompute its
normalized-AST hash and MinHash signature (70 s for 100k programs). Now each attempt's
fingerprint is computed once, when it is stored (`NoveltyIndexes.fingerprint_of`), and restore
reads the light rows and the stored signatures only. An old database (schema version 1) has
none: they are computed once, from the code of the attempts that lack them, and stored, so the
next resume is fast too. AST duplicates are found by an indexed query, not an in-memory dict.

Replaying 100k rows and reading their signatures was still most of a resume (15 s at 100k on a
loaded machine): a stored snapshot of the replay (`snapshot.py`) leaves only the attempts stored
after it to read and replay, and the near-duplicate index reads the stored signatures when it
is first used (an operator-only run never does).

`restore_run` is given exactly the parts it fills (population, result guard, novelty indexes)
and returns what the engine needs to continue (`RestoredRun`).
"""
from __future__ import annotations

import threading
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..program import Attempt
from ..safety import ResultGuard
from ..search.novelty import NoveltyFilter
from ..search.population import Population
from ..storage.base import Storage
from ..storage.fingerprints import EVALUATED_STATUSES
from . import snapshot
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
    replayed: int = 0                                      # attempts replayed (all of them without a snapshot)
    snapshot_through: int | None = None                    # the snapshot used: the last index it covered


def restore_run(storage: Storage, run_id: str, *, maximize: bool, population: Population, guard: ResultGuard,
                indexes: NoveltyIndexes, owned: Collection[int], shared: bool, snapshot_key: str = snapshot.KEY,
                use_snapshot: bool = True) -> RestoredRun:
    """Fill the population, the guard's history and the novelty indexes from storage (a fresh
    run finds nothing) and say where to continue.

    With a snapshot that fits (`snapshot.Snapshot.fits`) only the attempts after it are read and
    replayed, and the stored signatures are read when the near-duplicate index is first used;
    `use_snapshot=False` is the full replay (what a run without a snapshot does, and the reference
    the snapshot is tested against). A plain run's restore stores the replay's state as the new
    snapshot; a shared run's controllers take theirs while they run (`Engine.checkpoint`)."""
    out = RestoredRun()
    epoch = snapshot.epoch(storage, run_id)
    snap = snapshot.read(storage, run_id, snapshot_key) if use_snapshot else None
    if shared or snap is None:
        rows: list[Any] = storage.restore_rows(run_id)   # light tuples: no code, no JSON
    else:   # a plain run: no other writer, so the tail and the count agree
        rows = storage.attempts(run_id, since_index=snap.through + 1, with_code=False)
    if snap is not None:
        head = sum(1 for r in rows if r.proposal_index <= snap.through) if shared else \
            storage.count_attempts(run_id) - len(rows)
        if not snap.fits(population, epoch, head):   # stale: replay everything, as without one
            snap = None
            if not shared:
                rows = storage.restore_rows(run_id)
    replay = snapshot.Replay(population, guard)
    if snap is not None:
        replay.load(snap.state)
        out.snapshot_through = snap.through
    programs: set[str] | None = set() if snap is None else None   # ok ids, for an eager novelty load
    tail = [r for r in rows if r.proposal_index > replay.through]
    for a in rows:
        if shared and snapshot.status_of(a) != "pending" and a.island not in owned:
            out.known.add(a.id)   # only `sync` asks, for others' islands
    # the last index a new snapshot may cover: below the first pending attempt (a shared run's other
    # controllers may still store attempts below any index: they snapshot while they run)
    through = snapshot.safe_through(tail, -1 if shared else 1 << 62)
    replay.replay((r for r in tail if r.proposal_index <= through), through)
    if through > (snap.through if snap is not None else -1):
        snapshot.write(storage, run_id, snapshot_key, replay, epoch)
    pending_ids: list[str] = []
    rest = replay.next_index
    for a in tail:
        rest = max(rest, a.proposal_index + 1)
        if a.proposal_index <= through:
            continue
        if snapshot.status_of(a) == "pending":
            if a.island in owned:  # another controller's in-flight work is its own to finish
                pending_ids.append(a.id)
            continue
        replay.add(a)
    if programs is not None:
        programs.update(a.id for a in rows if snapshot.status_of(a) == "ok")
    out.next_index, out.replayed = rest, len(tail)
    del rows, tail
    if programs is None and indexes.embedding is not None:   # embeddings are not stored: read them now
        programs = {r.id for r in storage.fingerprints(run_id, ("ok",))}
    if programs is not None:
        _restore_novelty(storage, run_id, indexes, programs)
    else:
        novelty = indexes.novelty
        deferred = [i for i in (novelty, indexes.judge) if isinstance(i, NoveltyFilter) and i.num_perm == novelty.num_perm]
        loader = _DeferredPrograms(storage, run_id, novelty, consumers=len(deferred))
        for index in deferred:
            index.defer(loader)
    usage = storage.usage_totals(run_id)
    out.usage = Usage(
        llm_calls=int(usage["calls"]), proposals=replay.proposals, operator_proposals=replay.operators,
        cost_usd=float(usage["cost_usd"]), tokens=int(usage["input_tokens"] + usage["output_tokens"]),
        elapsed_s=float(storage.get_state(run_id, "elapsed_s", 0.0) or 0.0),
    )
    best = storage.best_attempts(run_id, 1, maximize=maximize)
    out.best = best[0] if best else None
    # pending attempts (in flight at a crash) are re-evaluated first: their model call was already paid
    pending = [storage.get_attempt(pid) for pid in pending_ids]
    out.pending = [p for p in pending if p is not None]
    return out


class _DeferredPrograms:
    """The stored programs' signatures, read when a near-duplicate index is first used
    (`NoveltyFilter.defer`): every attempt stored `ok`, in proposal order (the filter leaves out
    those it was given since the resume: they go after). One read serves the MinHash index and
    the judge's. In a shared run, programs other controllers store between the resume and this
    read are read too (as a resume that much later would)."""

    def __init__(self, storage: Storage, run_id: str, novelty: NoveltyFilter, *, consumers: int) -> None:
        self.storage, self.run_id, self.novelty = storage, run_id, novelty
        self._left = consumers
        self._read: tuple[list[str], np.ndarray] | None = None
        self._lock = threading.Lock()

    def __call__(self) -> tuple[list[str], np.ndarray]:
        with self._lock:
            if self._read is None:
                self._read = _stored_signatures(self.storage, self.run_id, self.novelty)
            ids, sigs = self._read
            self._left -= 1
            if self._left <= 0:
                self._read = None   # the last consumer: not kept twice
        return ids, sigs


def _stored_signatures(storage: Storage, run_id: str, novelty: NoveltyFilter) -> tuple[list[str], np.ndarray]:
    """(ids, signatures) of the run's programs in proposal order; a program stored without a
    signature (released from quarantine, say) gets one computed from its code, and stored."""
    from ..search.novelty import signature_bytes

    size = 8 * novelty.num_perm
    rows = [r for r in storage.fingerprints(run_id, ("ok",)) if r.has_code]
    stale = [r.id for r in rows if r.ast_hash is None or r.minhash is None or len(r.minhash) != size]
    fixed: dict[str, bytes] = {}
    if stale:
        codes = storage.codes(stale)
        hashes = {r.id: r.ast_hash for r in rows}
        updates = []
        for pid in stale:
            if pid in codes:
                fixed[pid] = signature_bytes(novelty.signature(codes[pid]))
                updates.append((pid, hashes[pid] or novelty.ast_hash(codes[pid]), fixed[pid]))
        storage.set_fingerprints(updates)
    ids: list[str] = []
    blobs: list[bytes] = []
    for r in rows:
        blob = fixed.get(r.id, r.minhash)
        if blob is not None and len(blob) == size:
            ids.append(r.id)
            blobs.append(blob)
    del rows
    return ids, np.frombuffer(b"".join(blobs), dtype="<u8").astype(np.uint64).reshape(len(ids), novelty.num_perm)


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
