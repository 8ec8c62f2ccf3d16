"""The gates a proposal passes before anyone pays for its evaluation: the cheating lint, then
novelty (identical code, the same normalised AST, MinHash near-duplicates for model edits, an
optional embedding-similarity filter and an optional LLM judge).

A mixin of `Engine`: these methods read the engine's config, storage and indexes.
"""
from __future__ import annotations

from ..program import Attempt, AttemptStatus
from ..safety import lint_new_findings
from ..storage.fingerprints import EVALUATED_STATUSES


class ProposalGates:
    def _lint(self, attempt: Attempt, parent_code: str) -> None:
        mode = self.cfg.safety.lint
        if mode == "off" or self.cfg.language != "python":
            return
        findings = lint_new_findings(attempt.code or "", parent_code)
        if not findings:
            return
        attempt.metrics["lint"] = [str(f) for f in findings]
        if mode == "block":
            attempt.status = AttemptStatus.INVALID
            attempt.reason = "blocked by the safety lint: " + "; ".join(str(f) for f in findings[:3])

    def _novelty_check(self, attempt: Attempt) -> None:
        """Reject before paying for an evaluation: identical code, the same normalised AST
        (renames, comments, formatting), and — for model edits — near-duplicates by MinHash.
        Operators are exempt from the near-duplicate test: a one-constant change is exactly
        how they make progress."""
        previous = self.storage.find_by_hash(self.run.id, attempt.code_hash or "")
        if previous is not None:
            attempt.status = AttemptStatus.DUPLICATE
            attempt.reason = f"identical code was already evaluated as {previous.id} ({previous.status.value})"
            return
        if not self.cfg.search.novelty:
            return
        code = attempt.code or ""
        with self._lock:
            ast_hash = self.novelty.ast_hash(code)
        # an indexed query (stored when each attempt was told), not a dict of every program's hash
        owner = self.storage.find_by_ast_hash(self.run.id, ast_hash, EVALUATED_STATUSES)
        if owner is not None:
            attempt.status = AttemptStatus.DUPLICATE
            attempt.reason = f"same program as {owner} up to names, comments and formatting"
            return
        if attempt.model is not None and attempt.mutation != "tweak":
            novel, why = self.novelty.check(code)
            if not novel:
                attempt.status, attempt.reason = AttemptStatus.DUPLICATE, why
            elif self.embedding_novelty is not None and not self._embedding_check(attempt):
                return
            elif self.cfg.search.novelty_judge:
                self._judge_novelty(attempt)

    def _embedding_check(self, attempt: Attempt) -> bool:
        from ..llm.base import LLMError

        try:
            novel, why = self.embedding_novelty.check(attempt.id, attempt.code or "")
        except LLMError as exc:
            attempt.metrics["embedding_error"] = f"{exc.kind}: {exc}"
            return True
        if not novel:
            attempt.status, attempt.reason = AttemptStatus.DUPLICATE, why
        return novel

    def _remember(self, a: Attempt) -> None:
        self.novelty.add(a.code or "", a.id)
        if self.embedding_novelty is not None:
            try:
                self.embedding_novelty.add(a.id, a.code)
            except Exception:  # an embedding outage must not stop the run; this program is just not indexed
                pass
        if self.judge_index is not None:
            self.judge_index.add(a.code or "", a.id)

    JUDGE_GRAMMAR = 'root ::= "yes" | "no"'

    def _judge_novelty(self, attempt: Attempt) -> None:
        """ShinkaEvolve's LLM novelty judge: for a close (but not identical) model edit, ask the
        model whether it is a genuinely different idea before paying for its evaluation."""
        similar_id, similarity = self.judge_index.most_similar(attempt.code or "")
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
        answer = self._strategy_llm(messages, purpose="novelty_judge", grammar=self.JUDGE_GRAMMAR, max_tokens=3)
        if answer.strip().lower().startswith("no"):
            attempt.status = AttemptStatus.DUPLICATE
            attempt.reason = f"the novelty judge found it the same idea as {similar_id} (similarity {similarity:.2f})"
