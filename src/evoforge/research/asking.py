"""Asking the model for a structured record, with strict reading and stored failures.

Every reply that is not the form is stored (event ``research_failure``: what was asked, the
reason, the reply) and the model is asked again with the reason, up to ``retries`` calls; then
the caller gets None and goes on without the record. Nothing is repaired by guessing.
"""
from __future__ import annotations

from typing import Any

from ..llm.base import LLMError
from .forms import Form, FormError
from .store import FAILURE, ResearchStore


class Asker:
    """One model (a provider) plus the research store its failures go to."""

    def __init__(self, provider: Any, store: ResearchStore, *, retries: int, temperature: float,
                 max_tokens: int) -> None:
        self.provider = provider
        self.store = store
        self.retries = retries
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.calls = 0

    def text(self, messages: list[dict[str, str]], *, what: str) -> str | None:
        """A plain-text reply, or None (the failure stored)."""
        try:
            self.calls += 1
            return self.provider.complete(messages, temperature=self.temperature, max_tokens=self.max_tokens).text
        except LLMError as exc:
            self.store.add(FAILURE, {"what": what, "error": f"model call failed ({exc.kind}): {exc}", "reply": ""})
            return None

    def form(self, form: Form, messages: list[dict[str, str]], *, what: str) -> dict[str, Any] | None:
        """The record the model fills in, read strictly; None after `retries` calls that were not."""
        convo = list(messages)
        grammar = form.grammar() if self.provider.supports_grammar else None
        for attempt in range(1, self.retries + 1):
            self.calls += 1
            try:
                reply = self.provider.complete(convo, temperature=self.temperature, max_tokens=self.max_tokens,
                                               grammar=grammar, json_schema=form.json_schema()).text
            except LLMError as exc:
                self.store.add(FAILURE, {"what": what, "attempt": attempt, "reply": "",
                                         "error": f"model call failed ({exc.kind}): {exc}"})
                continue
            try:
                return form.parse(reply)
            except FormError as exc:
                self.store.add(FAILURE, {"what": what, "attempt": attempt, "error": str(exc), "reply": reply[:4000]})
                convo = [*convo, {"role": "assistant", "content": reply},
                         {"role": "user", "content": f"That reply was refused: {exc}. Reply with only the JSON "
                                                     f"object of the {form.name} form:\n{form.describe()}"}]
        return None
