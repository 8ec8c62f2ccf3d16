"""Asking the model for a structured record, with strict reading and stored failures.

Every reply that is not the form is stored (event ``research_failure``: what was asked, the
reason, the reply) and the model is asked again with the reason, up to ``retries`` calls; then
the caller gets None and goes on without the record. Nothing is repaired by guessing.

Small models have small contexts (the embedded SmolLM2 reads 2,048 tokens, and a report with its
diff is more than that): every prompt is fitted to the provider's ``context_length`` before it is
sent, the longest message cut in its middle with a note saying so (its beginning, which says what
is asked, and its end, the form, are kept), and the reply is given at most a third of a small
context. A request the model refuses as malformed is not sent again unchanged.
"""
from __future__ import annotations

from typing import Any

from ..llm.base import LLMError
from .forms import Form, FormError
from .store import FAILURE, ResearchStore

CHARS_PER_TOKEN = 3.0      # conservative: English prose is ~4 characters a token, tables of numbers fewer
TEMPLATE_TOKENS = 64       # the chat template's role markers around the messages
CUT_NOTE = "\n[... {n} characters cut here to fit the model's context ...]\n"


def fit_messages(messages: list[dict[str, str]], room_chars: int) -> list[dict[str, str]]:
    """`messages` whose contents total at most `room_chars`: the longest one cut in its middle
    (first 60 % and last 40 % of what fits kept), others untouched; unchanged when they fit."""
    total = sum(len(m["content"]) for m in messages)
    if total <= room_chars:
        return messages
    longest = max(range(len(messages)), key=lambda i: len(messages[i]["content"]))
    text = messages[longest]["content"]
    keep = max(0, len(text) - (total - room_chars) - len(CUT_NOTE) - 8)
    head, tail = int(keep * 0.6), keep - int(keep * 0.6)
    cut = text[:head] + CUT_NOTE.format(n=len(text) - keep) + (text[len(text) - tail:] if tail else "")
    return [*messages[:longest], {**messages[longest], "content": cut}, *messages[longest + 1:]]


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
        self.context_tokens = int(getattr(provider, "context_length", 0) or 0)

    @property
    def reply_tokens(self) -> int:
        """`max_tokens`, at most a third of a small context (room must be left for the prompt)."""
        if self.context_tokens <= 0:
            return self.max_tokens
        return max(64, min(self.max_tokens, self.context_tokens // 3))

    @property
    def room_chars(self) -> int:
        """Characters of prompt that fit beside the reply in the model's context."""
        if self.context_tokens <= 0:
            return 10 ** 9
        return max(200, int((self.context_tokens - self.reply_tokens - TEMPLATE_TOKENS) * CHARS_PER_TOKEN))

    def text(self, messages: list[dict[str, str]], *, what: str) -> str | None:
        """A plain-text reply, or None (the failure stored)."""
        try:
            self.calls += 1
            return self.provider.complete(fit_messages(messages, self.room_chars), temperature=self.temperature,
                                          max_tokens=self.reply_tokens).text
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
                reply = self.provider.complete(fit_messages(convo, self.room_chars), temperature=self.temperature,
                                               max_tokens=self.reply_tokens, grammar=grammar,
                                               json_schema=form.json_schema()).text
            except LLMError as exc:
                self.store.add(FAILURE, {"what": what, "attempt": attempt, "reply": "",
                                         "error": f"model call failed ({exc.kind}): {exc}"})
                if exc.kind == "bad_request":
                    break   # the same request would be refused the same way
                continue
            try:
                return form.parse(reply)
            except FormError as exc:
                self.store.add(FAILURE, {"what": what, "attempt": attempt, "error": str(exc), "reply": reply[:4000]})
                again = (f"That reply was refused: {exc}. Reply with only the JSON object of the {form.name} "
                         f"form:\n{form.describe()}")
                grown = [*convo, {"role": "assistant", "content": reply}, {"role": "user", "content": again}]
                # a small context keeps the question, not the refused reply
                convo = grown if sum(len(m["content"]) for m in grown) <= self.room_chars else [
                    *messages[:-1], {**messages[-1], "content": f"{messages[-1]['content']}\n\n(Your last reply "
                                                                f"was refused: {exc}.)"}]
        return None
