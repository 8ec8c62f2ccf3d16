"""Restoring an engine from storage at start or resume, without re-reading or re-hashing code.

Why a module of its own: restore used to read the code of every program and recompute its
normalized-AST hash and MinHash signature (70 s for 100k programs). Now each attempt's
fingerprint is computed once, when it is stored (`Engine._fingerprint_of`), and restore reads
the light rows and the stored signatures only. An old database (schema version 1) has none:
they are computed once, from the code of the attempts that lack them, and stored, so the
next resume is fast too. AST duplicates are found by an indexed query, not an in-memory dict.

A mixin of `Engine`: these methods read the engine's config, storage, population and filters.
"""
from __future__ import annotations

import numpy as np

from ..program import Attempt
from ..search.novelty import NoveltyFilter, signature_bytes, signature_from_bytes
from ..storage.fingerprints import EVALUATED_STATUSES
from .budget import Budget, Usage


class RunRestore:
    def _fingerprint_of(self, a: Attempt) -> tuple[str, bytes | None] | None:
        """What the storage keeps of an attempt for novelty: the AST hash of anything evaluated
        (later proposals with that AST are duplicates), the signature of programs only (the
        near-duplicate index holds programs). Cached by code: the gates already computed them."""
        if a.code is None or a.status.value not in EVALUATED_STATUSES:
            return None
        sig = signature_bytes(self.novelty.signature(a.code)) if a.is_program else None
        return self.novelty.ast_hash(a.code), sig

    def _restore(self) -> None:
        """Rebuild the in-memory index and the budget from storage (a fresh run finds nothing)."""
        attempts = self.storage.restore_rows(self.run.id)   # light tuples: no code, no JSON
        programs: set[str] = set()
        for a in attempts:
            self._next_index = max(self._next_index, a.proposal_index + 1)
            if a.status_value == "pending":
                if a.island in self.owned:  # another controller's in-flight work is its own to finish
                    self._pending.append(a)
                continue
            self.population.add(a)  # type: ignore[arg-type]  (reads like a light Attempt)
            if self.shared and a.island not in self.owned:  # only `sync` asks, for others' islands
                self._known.add(a.id)
            if a.status_value == "ok":
                programs.add(a.id)
                if a.score is not None:
                    self.guard.observe_trusted(a.score)
        self._restore_novelty(programs)
        usage = self.storage.usage_totals(self.run.id)
        proposals = sum(1 for a in attempts if a.mutation != "initial" and a.status_value != "pending")
        operators = sum(1 for a in attempts if a.model is None and a.mutation != "initial" and a.status_value != "pending")
        del attempts
        self.budget = Budget(
            self.cfg.budget,
            Usage(
                llm_calls=int(usage["calls"]), proposals=proposals, operator_proposals=operators,
                cost_usd=float(usage["cost_usd"]), tokens=int(usage["input_tokens"] + usage["output_tokens"]),
                elapsed_s=float(self.storage.get_state(self.run.id, "elapsed_s", 0.0) or 0.0),
            ),
        )
        self.kinds.load_state(self.storage.get_state(self.run.id, self._key("kinds")))
        strategy_state = self.storage.get_state(self.run.id, self._key("strategy"))
        if strategy_state is not None:
            self.strategy.load_state(strategy_state)
        if self.model_chooser is not None:
            self.model_chooser.load_state(self.storage.get_state(self.run.id, self._key("models")))
        best = self.storage.best_attempts(self.run.id, 1, maximize=self.task.maximize)
        self.best = best[0] if best else None
        # pending attempts (in flight at a crash) are re-evaluated first: their model call was already paid
        pending = [self.storage.get_attempt(a.id) for a in self._pending]
        self._pending = [p for p in pending if p is not None]

    def _restore_novelty(self, programs: set[str]) -> None:
        """Fill the near-duplicate indexes from stored signatures; compute (once, and store) the
        fingerprints an old database lacks."""
        num_perm = self.novelty.num_perm
        rows = self.storage.fingerprints(self.run.id, EVALUATED_STATUSES)
        stale = [r.id for r in rows if r.has_code and (
            r.ast_hash is None or (r.id in programs and signature_from_bytes(r.minhash, num_perm) is None))]
        fixed: dict[str, tuple[str, bytes | None]] = {}
        if stale:
            codes = self.storage.codes(stale)
            for pid in stale:
                if pid in codes:
                    digest = self.novelty.ast_hash(codes[pid])
                    sig = signature_bytes(self.novelty.signature(codes[pid])) if pid in programs else None
                    fixed[pid] = (digest, sig)
            self.storage.set_fingerprints([(pid, h, sig) for pid, (h, sig) in fixed.items()])
        ids: list[str] = []
        blobs: list[bytes] = []
        for r in rows:
            if r.id not in programs or not r.has_code:
                continue
            blob = fixed[r.id][1] if r.id in fixed else r.minhash
            if blob is not None and len(blob) == 8 * num_perm:
                ids.append(r.id)
                blobs.append(blob)
        del rows
        sigs = np.frombuffer(b"".join(blobs), dtype="<u8").astype(np.uint64).reshape(len(ids), num_perm)
        del blobs
        for index in (self.novelty, self.judge_index):
            if isinstance(index, NoveltyFilter) and index.num_perm == num_perm:
                index.add_signatures(ids, sigs)
        if self.embedding_novelty is not None:  # embeddings are not stored: the code is needed
            codes = self.storage.codes(ids)
            for pid in ids:
                try:
                    self.embedding_novelty.add(pid, codes.get(pid))
                except Exception:  # an embedding outage must not stop the run
                    pass
