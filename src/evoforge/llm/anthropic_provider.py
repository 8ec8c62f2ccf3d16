"""Claude models through the official ``anthropic`` SDK (extra ``anthropic``).

Why not the OpenAI-compatible shim: extended thinking, its token accounting and the
``overloaded`` (529) status are only exposed faithfully by the native Messages API.
The SDK is imported lazily so ``pip install evoforge`` stays small; its own retries are off
(``max_retries=0``) because `evoforge.llm.retry` is the one retry layer.
"""
from __future__ import annotations

import inspect
import time
from typing import Any

from ..errors import require
from .base import LLMError, LLMResponse, check_reply, error_from_status, redact
from .pricing import PriceOverrides, cost_usd

_STOP = {"max_tokens": "length", "end_turn": "stop", "stop_sequence": "stop", "refusal": "content_filter"}


def build_anthropic_request(
    model: str,
    messages: list[dict[str, str]],
    *,
    temperature: float | None = 0.7,
    max_tokens: int = 1024,
    stop: list[str] | None = None,
    thinking_budget: int | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.messages.create``. System messages move to ``system``
    (the Messages API has no system role); consecutive same-role turns are merged because
    the API requires alternation. With thinking on, temperature must be left unset and
    ``max_tokens`` must exceed the thinking budget, so the budget is added to it."""
    system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
    turns: list[dict[str, str]] = []
    for m in messages:
        role = m.get("role", "user")
        if role == "system":
            continue
        role = "assistant" if role == "assistant" else "user"
        if turns and turns[-1]["role"] == role:
            turns[-1] = {"role": role, "content": turns[-1]["content"] + "\n\n" + m["content"]}
        else:
            turns.append({"role": role, "content": m["content"]})
    req: dict[str, Any] = {"model": model, "messages": turns, "max_tokens": max_tokens}
    if system:
        req["system"] = system
    if stop:
        req["stop_sequences"] = list(stop)
    if thinking_budget:
        req["thinking"] = {"type": "enabled", "budget_tokens": int(thinking_budget)}
        req["max_tokens"] = max_tokens + int(thinking_budget)
    elif temperature is not None:
        req["temperature"] = temperature
    return req


def parse_anthropic_message(msg: Any, model: str, latency: float,
                            price_overrides: PriceOverrides | None = None) -> LLMResponse:
    """Text blocks → ``text``, thinking blocks → ``reasoning``. Anthropic's ``output_tokens``
    already include thinking tokens, so they are billed once; the thinking share is taken
    from ``usage.output_tokens_details.thinking_tokens`` where the SDK reports it."""
    text, reasoning = [], []
    for block in getattr(msg, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            text.append(getattr(block, "text", "") or "")
        elif kind == "thinking":
            reasoning.append(getattr(block, "thinking", "") or "")
    usage = getattr(msg, "usage", None)
    in_tok = sum(int(getattr(usage, k, 0) or 0) for k in
                 ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))
    out_tok = int(getattr(usage, "output_tokens", 0) or 0)
    thinking_tok = int(getattr(getattr(usage, "output_tokens_details", None), "thinking_tokens", 0) or 0)
    stop = getattr(msg, "stop_reason", "") or ""
    return LLMResponse(
        text="".join(text), model=model, input_tokens=in_tok, output_tokens=out_tok,
        reasoning_tokens=thinking_tok, latency_s=latency,
        cost_usd=cost_usd(model, in_tok, out_tok, thinking_tok, price_overrides),
        finish_reason=_STOP.get(stop, stop), reasoning="\n".join(reasoning),
    )


class AnthropicProvider:
    """`LLMProvider` for ``anthropic/MODEL``. Grammar and seed are not supported (ignored)."""

    supports_grammar = False

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        name: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        context_length: int = 200_000,
        thinking_budget: int | None = None,
        price_overrides: PriceOverrides | None = None,
    ) -> None:
        self._sdk = require("anthropic", "anthropic", "The anthropic/ provider")
        self.model = model
        self.name = name or f"anthropic/{model}"
        self.timeout = float(timeout)
        self.context_length = int(context_length)
        self.thinking_budget = thinking_budget
        self.price_overrides = price_overrides
        self._has_key = bool(api_key)
        self._client = self._sdk.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)
        # SDK releases add and drop request fields (recent ones have no ``temperature``);
        # send only what this SDK's ``messages.create`` accepts instead of failing with TypeError.
        try:
            self._accepted: set[str] | None = set(inspect.signature(self._client.messages.create).parameters)
        except (TypeError, ValueError):
            self._accepted = None

    def __repr__(self) -> str:
        return f"AnthropicProvider(name={self.name!r}, api_key={redact(self._has_key and 'x')})"

    def close(self) -> None:
        self._client.close()

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = 0.7,
        max_tokens: int = 1024,
        seed: int | None = None,
        grammar: str | None = None,
        stop: list[str] | None = None,
        timeout: float | None = None,
    ) -> LLMResponse:
        req = build_anthropic_request(self.model, messages, temperature=temperature, max_tokens=max_tokens,
                                      stop=stop, thinking_budget=self.thinking_budget)
        if timeout is not None:
            req["timeout"] = max(0.001, min(timeout, self.timeout))
        if self._accepted is not None:
            req = {k: v for k, v in req.items() if k in self._accepted}
        t0 = time.monotonic()
        try:
            msg = self._client.messages.create(**req)
        except self._sdk.APITimeoutError as exc:
            raise LLMError("timeout", "request timed out", model=self.name,
                           latency_s=time.monotonic() - t0) from exc
        except self._sdk.APIConnectionError as exc:
            raise LLMError("connection", str(exc), model=self.name, latency_s=time.monotonic() - t0) from exc
        except self._sdk.APIStatusError as exc:
            err = error_from_status(exc.status_code, str(getattr(exc, "message", exc))[:500],
                                    headers=exc.response.headers, model=self.name)
            err.latency_s = time.monotonic() - t0
            raise err from exc
        return check_reply(parse_anthropic_message(msg, self.model, time.monotonic() - t0, self.price_overrides))
