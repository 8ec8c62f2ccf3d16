"""The gates a proposal passes before anyone pays for its evaluation: the cheating lint, then
novelty (identical code, the same normalised AST, MinHash near-duplicates for model edits, an
optional embedding-similarity filter and an optional LLM judge).

Why a part of its own, with its inputs named in the constructor: the gates decide which
proposals cost an evaluation, so what they read (the config's safety and search sections, the
run's stored attempts, the novelty indexes and one model call for the judge) is all they get.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..bundle import is_bundle
from ..config import Config
from ..program import Attempt, AttemptStatus
from ..safety import lint_new_findings
from ..search.novelty import NoveltyFilter, signature_bytes
from ..storage.base import Storage
from ..storage.fingerprints import EVALUATED_STATUSES

# a model call on behalf of the judge: (messages, purpose, grammar, max_tokens) -> reply text ("" on failure)
JudgeCall = Callable[..., str]


@dataclass
class NoveltyIndexes:
    """The in-memory near-duplicate indexes of one run: MinHash (always), the judge's looser
    MinHash index and the embedding index (each when configured)."""

    novelty: NoveltyFilter
    judge: NoveltyFilter | None = None
    embedding: Any = None   # EmbeddingNovelty

    @classmethod
    def from_config(cls, cfg: Config) -> NoveltyIndexes:
        from ..errors import UserError

        search = cfg.search
        # AST duplicates are a storage query (exact=False); the judge looks at looser near-duplicates:
        # its own LSH index, banded for its threshold
        indexes = cls(NoveltyFilter(threshold=search.novelty_threshold, exact=False),
                      NoveltyFilter(threshold=search.judge_threshold, exact=False) if search.novelty_judge else None)
        if search.embedding_model:
            from ..llm.registry import create_provider
            from ..search.embedding_novelty import EmbeddingNovelty

            embedder = create_provider(search.embedding_model, retry=False)
            if not embedder.supports_embeddings:
                raise UserError(f"search.embedding_model: {search.embedding_model!r} offers no embeddings "
                                "(use an OpenAI-compatible model string)")
            indexes.embedding = EmbeddingNovelty(embedder, search.embedding_threshold)
        return indexes

    def remember(self, a: Attempt) -> None:
        """Index a new program (so later proposals like it are duplicates)."""
        self.novelty.add(a.code or "", a.id)
        if self.embedding is not None:
            try:
                self.embedding.add(a.id, a.code)
            except Exception:  # an embedding outage must not stop the run; this program is just not indexed
                pass
        if self.judge is not None:
            self.judge.add(a.code or "", a.id)

    def fingerprint_of(self, a: Attempt) -> tuple[str, bytes | None] | None:
        """What the storage keeps of an attempt for novelty: the AST hash of anything evaluated
        (later proposals with that AST are duplicates), the signature of programs only (the
        near-duplicate index holds programs). Cached by code: the gates already computed them."""
        if a.code is None or a.status.value not in EVALUATED_STATUSES:
            return None
        sig = signature_bytes(self.novelty.signature(a.code)) if a.is_program else None
        return self.novelty.ast_hash(a.code), sig


class ProposalGates:
    """Lint and novelty checks; each sets the attempt's status and reason instead of raising."""

    JUDGE_GRAMMAR = 'root ::= "yes" | "no"'

    def __init__(self, cfg: Config, storage: Storage, run_id: str, indexes: NoveltyIndexes, *,
                 judge_call: JudgeCall, lock: threading.RLock | None = None) -> None:
        self.cfg = cfg
        self.storage = storage
        self.run_id = run_id
        self.indexes = indexes
        self.judge_call = judge_call
        self._lock = lock or threading.RLock()   # the MinHash index's caches are not thread-safe

    def lint(self, attempt: Attempt, parent_code: str) -> None:
        mode = self.cfg.safety.lint
        # a folder program is linted file by file (its Python files), whatever the task's language
        if mode == "off" or (self.cfg.language != "python" and not is_bundle(attempt.code)):
            return
        findings = lint_new_findings(attempt.code or "", parent_code)
        if not findings:
            return
        attempt.metrics["lint"] = [str(f) for f in findings]
        if mode == "block":
            attempt.status = AttemptStatus.INVALID
            attempt.reason = "blocked by the safety lint: " + "; ".join(str(f) for f in findings[:3])

    def novelty_check(self, attempt: Attempt) -> None:
        """Reject before paying for an evaluation: identical code, the same normalised AST
        (renames, comments, formatting), and — for model edits — near-duplicates by MinHash.
        Operators are exempt from the near-duplicate test: a one-constant change is exactly
        how they make progress."""
        previous = self.storage.find_by_hash(self.run_id, attempt.code_hash or "")
        if previous is not None:
            attempt.status = AttemptStatus.DUPLICATE
            attempt.reason = f"identical code was already evaluated as {previous.id} ({previous.status.value})"
            return
        if not self.cfg.search.novelty:
            return
        code = attempt.code or ""
        novelty = self.indexes.novelty
        with self._lock:
            ast_hash = novelty.ast_hash(code)
        # an indexed query (stored when each attempt was told), not a dict of every program's hash
        owner = self.storage.find_by_ast_hash(self.run_id, ast_hash, EVALUATED_STATUSES)
        if owner is not None:
            attempt.status = AttemptStatus.DUPLICATE
            attempt.reason = f"same program as {owner} up to names, comments and formatting"
            return
        if attempt.model is not None and attempt.mutation != "tweak":
            novel, why = novelty.check(code)
            if not novel:
                attempt.status, attempt.reason = AttemptStatus.DUPLICATE, why
            elif self.indexes.embedding is not None and not self._embedding_check(attempt):
                return
            elif self.cfg.search.novelty_judge:
                self._judge_novelty(attempt)

    def _embedding_check(self, attempt: Attempt) -> bool:
        from ..llm.base import LLMError

        try:
            novel, why = self.indexes.embedding.check(attempt.id, attempt.code or "")
        except LLMError as exc:
            attempt.metrics["embedding_error"] = f"{exc.kind}: {exc}"
            return True
        if not novel:
            attempt.status, attempt.reason = AttemptStatus.DUPLICATE, why
        return novel

    def _judge_novelty(self, attempt: Attempt) -> None:
        """ShinkaEvolve's LLM novelty judge: for a close (but not identical) model edit, ask the
        model whether it is a genuinely different idea before paying for its evaluation."""
        judge = self.indexes.judge
        if judge is None:
            return
        similar_id, similarity = judge.most_similar(attempt.code or "")
        if similar_id is None or similarity < self.cfg.search.judge_threshold:
            return
        other = self.storage.get_attempt(similar_id)
        if other is None or other.code is None:
            return
        messages = [
            {"role": "system", "content": "You compare two versions of a program. Answer yes or no."},
            {"role": "user", "content": (
                f"Program A:\n```\n{other.code[:3000]}\n```\n\nProgram B:\n```\n{(attempt.code or '')[:3000]}\n```\n\n"
                "Does B try a meaningfully different idea from A (not a cosmetic or trivial change)? Answer yes or no.")},
        ]
        answer = self.judge_call(messages, purpose="novelty_judge", grammar=self.JUDGE_GRAMMAR, max_tokens=3)
        if answer.strip().lower().startswith("no"):
            attempt.status = AttemptStatus.DUPLICATE
            attempt.reason = f"the novelty judge found it the same idea as {similar_id} (similarity {similarity:.2f})"
