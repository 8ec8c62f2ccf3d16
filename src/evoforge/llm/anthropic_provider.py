"""Claude models through the official ``anthropic`` SDK (extra ``anthropic``), or any server
speaking the Anthropic Messages protocol (``anthropic/MODEL@URL``).

Why not the OpenAI-compatible shim: extended thinking, its token accounting and the
``overloaded`` (529) status are only exposed faithfully by the native Messages API.
The SDK is imported lazily so ``pip install evoforge`` stays small; its own retries are off
(``max_retries=0``) because `evoforge.llm.retry` is the one retry layer.
"""
from __future__ import annotations

import inspect
from typing import Any

from ..errors import require
from .base import LLMError, LLMResponse, error_from_status
from .pricing import PriceOverrides, cost_usd
from .request import CompletionRequest
from .sdk_base import SDKProvider

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


class AnthropicProvider(SDKProvider):
    """`ProviderBase` for ``anthropic/MODEL[@URL]`` (constructor: `SDKProvider`). Grammar,
    JSON schema and seed are not supported by the Messages API (accepted and ignored)."""

    prefix = "anthropic"
    default_context_length = 200_000

    def _make_client(self, api_key: str | None, base_url: str | None) -> Any:
        self._sdk = require("anthropic", "anthropic", "The anthropic/ provider")
        client = self._sdk.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=self.timeout)
        # Adapting to the installed SDK, not probing our own protocol: SDK releases add and
        # drop request fields (recent ones have no ``temperature``), so only the fields this
        # SDK's ``messages.create`` names are sent instead of failing with TypeError.
        self._sdk_fields = _sdk_fields(client.messages.create)
        return client

    def _request(self, messages: list[dict[str, str]], request: CompletionRequest, timeout: float) -> dict[str, Any]:
        req = build_anthropic_request(self.model, messages, temperature=request.temperature,
                                      max_tokens=request.max_tokens, stop=request.stop,
                                      thinking_budget=self.thinking_budget)
        req["timeout"] = timeout
        if self._sdk_fields is not None:
            req = {k: v for k, v in req.items() if k in self._sdk_fields}
        return req

    def _send(self, request: dict[str, Any]) -> Any:
        return self._client.messages.create(**request)

    def _parse(self, raw: Any, latency: float) -> LLMResponse:
        return parse_anthropic_message(raw, self.model, latency, self.price_overrides)

    def _map_error(self, exc: Exception) -> LLMError | None:
        sdk = self._sdk
        if isinstance(exc, sdk.APITimeoutError):  # a subclass of APIConnectionError: first
            return LLMError("timeout", "request timed out", model=self.name)
        if isinstance(exc, sdk.APIConnectionError):
            return LLMError("connection", f"cannot reach {self.base_url or 'the Anthropic API'}: {exc}",
                            model=self.name)
        if isinstance(exc, sdk.APIStatusError):
            return error_from_status(exc.status_code, str(getattr(exc, "message", exc))[:500],
                                     headers=exc.response.headers, model=self.name)
        if isinstance(exc, (sdk.APIResponseValidationError, ValueError)):  # JSONDecodeError is a ValueError
            return LLMError("server", f"malformed response: {exc}", model=self.name)
        if isinstance(exc, sdk.AnthropicError):
            return LLMError("server", str(exc), model=self.name)
        return None


def _sdk_fields(create: Any) -> set[str] | None:
    try:
        return set(inspect.signature(create).parameters)
    except (TypeError, ValueError):
        return None
