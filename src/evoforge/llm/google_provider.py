"""Gemini models through the official ``google-genai`` SDK (extra ``google``), or any server
speaking the Gemini ``generateContent`` protocol (``google/MODEL@URL``).

Why besides ``gemini/`` (the OpenAI-compatible endpoint): the native API returns thought
summaries and a separate ``thoughts_token_count``, and accepts a thinking budget. The SDK
is imported lazily. Requests are built as plain dicts (the SDK accepts them), which keeps the
request construction testable without the SDK installed.
"""
from __future__ import annotations

import re
from typing import Any

from ..errors import require
from .base import LLMError, LLMResponse, error_from_status
from .pricing import PriceOverrides, cost_usd
from .request import CompletionRequest
from .sdk_base import SDKProvider

_THINKING_MODELS = re.compile(r"gemini-(2\.5|[3-9])")
_FINISH = {"MAX_TOKENS": "length", "STOP": "stop", "SAFETY": "content_filter", "RECITATION": "content_filter"}


def build_google_request(
    model: str,
    messages: list[dict[str, str]],
    *,
    temperature: float | None = 0.7,
    max_tokens: int = 1024,
    seed: int | None = None,
    stop: list[str] | None = None,
    thinking_budget: int | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``client.models.generate_content``: system messages become
    ``system_instruction``, the assistant role is called ``model``, and thought summaries are
    requested from thinking models so that `LLMResponse.reasoning` is filled."""
    system = "\n\n".join(m["content"] for m in messages if m.get("role") == "system")
    contents = [
        {"role": "model" if m.get("role") == "assistant" else "user", "parts": [{"text": m["content"]}]}
        for m in messages if m.get("role") != "system"
    ]
    config: dict[str, Any] = {"max_output_tokens": max_tokens}
    if system:
        config["system_instruction"] = system
    if temperature is not None:
        config["temperature"] = temperature
    if seed is not None:
        config["seed"] = seed
    if stop:
        config["stop_sequences"] = list(stop)
    if thinking_budget is not None or _THINKING_MODELS.search(model):
        thinking: dict[str, Any] = {"include_thoughts": True}
        if thinking_budget is not None:
            thinking["thinking_budget"] = int(thinking_budget)
        config["thinking_config"] = thinking
    if timeout is not None:
        config["http_options"] = {"timeout": max(1, int(timeout * 1000))}  # milliseconds
    return {"model": model, "contents": contents, "config": config}


def parse_google_response(resp: Any, model: str, latency: float,
                          price_overrides: PriceOverrides | None = None) -> LLMResponse:
    """Parts flagged ``thought`` → ``reasoning``; the others → ``text``. Gemini reports
    thinking tokens apart from ``candidates_token_count``; they are added to
    ``output_tokens`` (billed as output) and also reported as ``reasoning_tokens``."""
    text: list[str] = []
    reasoning: list[str] = []
    finish = ""
    candidates = getattr(resp, "candidates", None) or []
    if candidates:
        cand = candidates[0]
        content = getattr(cand, "content", None)
        for part in getattr(content, "parts", None) or []:
            t = getattr(part, "text", None) or ""
            (reasoning if getattr(part, "thought", False) else text).append(t)
        fr = getattr(cand, "finish_reason", None)
        fr_name = str(getattr(fr, "name", fr) or "")
        finish = _FINISH.get(fr_name, fr_name.lower())
    usage = getattr(resp, "usage_metadata", None)
    in_tok = int(getattr(usage, "prompt_token_count", 0) or 0)
    thoughts = int(getattr(usage, "thoughts_token_count", 0) or 0)
    out_tok = int(getattr(usage, "candidates_token_count", 0) or 0) + thoughts
    return LLMResponse(
        text="".join(text), model=model, input_tokens=in_tok, output_tokens=out_tok,
        reasoning_tokens=thoughts, latency_s=latency,
        cost_usd=cost_usd(model, in_tok, out_tok, thoughts, price_overrides),
        finish_reason=finish, reasoning="\n".join(reasoning),
    )


class GoogleProvider(SDKProvider):
    """`ProviderBase` for ``google/MODEL[@URL]`` (constructor: `SDKProvider`). Grammar and
    JSON schema are not supported (accepted and ignored)."""

    prefix = "google"
    default_context_length = 1_000_000

    def _make_client(self, api_key: str | None, base_url: str | None) -> Any:
        genai = require("google.genai", "google", "The google/ provider")
        self._errors = require("google.genai.errors", "google", "The google/ provider")
        options: dict[str, Any] = {"timeout": max(1, int(self.timeout * 1000)),  # milliseconds
                                   "retry_options": {"attempts": 1}}          # no SDK retries
        if base_url:
            options["base_url"] = base_url
        return genai.Client(api_key=api_key, http_options=options)

    def close(self) -> None:
        # ``Client.close`` arrived in later google-genai releases than the >=1.0 the extra allows;
        # with an older SDK there is nothing of ours to release (its HTTP client closes on exit).
        closer = getattr(self._client, "close", None)
        if closer is not None:
            closer()

    def _request(self, messages: list[dict[str, str]], request: CompletionRequest, timeout: float) -> dict[str, Any]:
        return build_google_request(self.model, messages, temperature=request.temperature,
                                    max_tokens=request.max_tokens, seed=request.seed, stop=request.stop,
                                    thinking_budget=self.thinking_budget, timeout=timeout)

    def _send(self, request: dict[str, Any]) -> Any:
        return self._client.models.generate_content(**request)

    def _parse(self, raw: Any, latency: float) -> LLMResponse:
        return parse_google_response(raw, self.model, latency, self.price_overrides)

    def _map_error(self, exc: Exception) -> LLMError | None:
        """The SDK raises its own `APIError` for statuses and lets its HTTP client's exceptions
        through for transport failures. That client is httpx or its successor httpx2 depending
        on the release, so those are recognised by their class names (``TimeoutException``,
        ``TransportError``, the same in both) rather than by importing one of them."""
        if isinstance(exc, self._errors.APIError):
            return error_from_status(int(getattr(exc, "code", 0) or 500), str(getattr(exc, "message", exc))[:500],
                                     headers=getattr(getattr(exc, "response", None), "headers", None),
                                     model=self.name)
        transport = {cls.__name__ for cls in type(exc).__mro__}
        if "TimeoutException" in transport or isinstance(exc, TimeoutError):
            return LLMError("timeout", "request timed out", model=self.name)
        if "TransportError" in transport or isinstance(exc, OSError):  # refused, reset, dropped mid-request
            return LLMError("connection", f"cannot reach {self.base_url or 'the Gemini API'}: {exc}",
                            model=self.name)
        if isinstance(exc, ValueError):  # a body that is not JSON, or not a response (pydantic)
            return LLMError("server", f"malformed response: {exc}", model=self.name)
        return None
