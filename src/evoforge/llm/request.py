"""The parameters of one model call, declared once: `CompletionRequest`.

Why an object: `ProviderBase.complete` takes eight keywords, and every provider and the retry
layer used to repeat that whole signature (and forward the keywords one by one) only to read
them. Now the base's `complete` is the one place the keywords are spelled out; it packs them
into a `CompletionRequest` and providers receive that object (`ProviderBase._complete`), so
adding a keyword is one field here and one parameter there. The values are kept exactly as the
caller gave them (a list stays a list), so what reaches a backend is unchanged.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

# The smallest per-call timeout sent to a backend (seconds): a budget that is all but used
# up still gives a positive timeout, which every SDK accepts.
MIN_TIMEOUT_S = 0.001


@dataclass(frozen=True)
class CompletionRequest:
    """Everything `ProviderBase.complete` was asked besides the messages (see its docstring
    for what each field means); the defaults are that method's defaults."""

    temperature: float | None = 0.7
    max_tokens: int = 1024
    seed: int | None = None
    grammar: str | None = None
    stop: list[str] | None = None
    timeout: float | None = None
    reasoning_effort: str | None = None
    json_schema: Mapping[str, Any] | None = None

    def keywords(self) -> dict[str, Any]:
        """The fields as `ProviderBase.complete` keywords (values not copied)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def timeout_within(self, ceiling: float) -> float:
        """The timeout for this call under a provider's own ``ceiling``: the caller's
        ``timeout`` where it is smaller (never below `MIN_TIMEOUT_S`), else the ceiling."""
        if self.timeout is None:
            return ceiling
        return max(MIN_TIMEOUT_S, min(float(self.timeout), ceiling))
