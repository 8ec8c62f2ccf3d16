"""One provider for every OpenAI-compatible chat endpoint: OpenAI, vLLM, Ollama, llama.cpp
server, OpenRouter, DeepSeek and Gemini's compatibility endpoint.

Why one class: these servers differ only in base URL, key and a few request fields (grammar
for llama.cpp, a JSON schema for Ollama / vLLM / OpenAI structured outputs, reasoning
parameters for o-series / gpt-5), so a single well-tested code path
beats seven thin ones. The SDK's own retries are switched off (``max_retries=0``): retrying
is done once, in `evoforge.llm.retry`, where budgets and cancellation are enforced.
"""
from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from .base import (
    LLMError,
    LLMResponse,
    check_reply,
    error_from_status,
    split_think,
)
from .pricing import PriceOverrides, cost_usd
from .remote import RemoteProvider
from .request import CompletionRequest

REASONING_PREFIXES = ("o1", "o3", "o4", "gpt-5")

# Where a server reads a GBNF grammar from the request body: llama.cpp's server (and
# `evoforge serve-model`) take "grammar"; vLLM took "guided_grammar" and, from 0.10, takes
# {"structured_outputs": {"grammar": ...}} (its xgrammar backend reads GBNF).
GRAMMAR_FIELDS = ("grammar", "guided_grammar", "structured_outputs")


def grammar_body(field: str, grammar: str) -> dict[str, Any]:
    """The request-body fields that carry ``grammar`` for a server that reads it from ``field``."""
    if field == "structured_outputs":
        return {"structured_outputs": {"grammar": grammar}}
    return {field: grammar}


def json_schema_format(schema: Mapping[str, Any], name: str = "search_replace_edit") -> dict[str, Any]:
    """The ``response_format`` that asks for a reply matching ``schema`` (OpenAI structured
    outputs; Ollama and vLLM read the same field)."""
    return {"type": "json_schema", "json_schema": {"name": name, "schema": dict(schema), "strict": True}}


def is_reasoning_model(model: str) -> bool:
    """OpenAI reasoning models reject ``temperature``/``max_tokens`` and take ``reasoning_effort``."""
    bare = model.rsplit("/", 1)[-1].lower()
    return bare.startswith(REASONING_PREFIXES)


def _get(obj: Any, name: str, default: Any = None) -> Any:
    """Attribute or dict key or pydantic extra: compatible servers put fields in odd places."""
    if obj is None:
        return default
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    value = getattr(obj, name, None)
    if value is None:
        extra = getattr(obj, "model_extra", None) or {}
        value = extra.get(name)
    return default if value is None else value


class OpenAICompatProvider(RemoteProvider):
    """`ProviderBase` over ``openai.OpenAI(...).chat.completions``.

    ``name`` is the model string the provider was created from (e.g. ``ollama/llama3``),
    ``model`` the id sent to the server, ``pricing_model`` the key used for cost lookups.
    Embeddings come from the endpoint's ``/embeddings`` route (``supports_embeddings``).
    """

    prefix = "openai"
    supports_embeddings = True

    def __init__(
        self,
        model: str,
        *,
        base_url: str | None,
        api_key: str | None,
        name: str | None = None,
        timeout: float = 120.0,
        context_length: int = 128_000,
        supports_grammar: bool = False,
        grammar_field: str = "grammar",
        supports_json_schema: bool = False,
        reasoning_effort: str | None = None,
        extra_body: Mapping[str, Any] | None = None,
        default_headers: Mapping[str, str] | None = None,
        pricing_model: str | None = None,
        price_overrides: PriceOverrides | None = None,
    ) -> None:
        self._set_endpoint(model, name=name, base_url=base_url, timeout=timeout, context_length=context_length,
                           api_key=api_key, price_overrides=price_overrides)
        self.supports_grammar = bool(supports_grammar)
        if grammar_field not in GRAMMAR_FIELDS:
            from ..errors import ModelSpecError

            raise ModelSpecError(f"{self.name}: grammar_field {grammar_field!r} is not one of "
                                 f"{', '.join(GRAMMAR_FIELDS)}")
        self.grammar_field = grammar_field
        self.supports_json_schema = bool(supports_json_schema)
        self.reasoning_effort = reasoning_effort
        self.extra_body = dict(extra_body or {})
        self.pricing_model = pricing_model or model
        import openai  # core dependency; imported here so `import evoforge.llm` stays light

        self._openai = openai
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "EMPTY", max_retries=0, timeout=self.timeout,
            default_headers=dict(default_headers) if default_headers else None,
        )

    def __repr__(self) -> str:  # never the key
        return (f"OpenAICompatProvider(name={self.name!r}, base_url={self.base_url!r}, "
                f"api_key={self._shown_key()})")

    def build_request(self, messages: list[dict[str, str]], request: CompletionRequest | None = None,
                      **keywords: Any) -> dict[str, Any]:
        """Keyword arguments for ``chat.completions.create`` (separate so tests can read it), for
        ``request`` or, where none is given, for the `CompletionRequest` of ``keywords``.

        A grammar wins over a JSON schema: only one constraint is sent, and GBNF is the tighter."""
        r = request if request is not None else CompletionRequest(**keywords)
        req: dict[str, Any] = {"model": self.model, "messages": list(messages)}
        extra = dict(self.extra_body)
        if is_reasoning_model(self.model):
            # temperature is rejected by o-series/gpt-5; max_tokens is replaced by
            # max_completion_tokens, which also bounds the hidden reasoning.
            req["max_completion_tokens"] = r.max_tokens
            effort = r.reasoning_effort or self.reasoning_effort
            if effort:
                req["reasoning_effort"] = effort
        else:
            req["max_tokens"] = r.max_tokens
            if r.temperature is not None:
                req["temperature"] = r.temperature
        if r.seed is not None:
            req["seed"] = r.seed
        if r.stop:
            req["stop"] = list(r.stop)
        if r.grammar and self.supports_grammar:
            extra.update(grammar_body(self.grammar_field, r.grammar))
        elif r.json_schema and self.supports_json_schema:
            req["response_format"] = json_schema_format(r.json_schema)
        if extra:
            req["extra_body"] = extra
        return req

    def _complete(self, messages: list[dict[str, str]], request: CompletionRequest) -> LLMResponse:
        """One call, no retries. ``timeout`` (seconds) caps the provider's own timeout for this
        call; the retry layer uses it to keep a call inside its wall-clock budget.
        ``reasoning_effort`` overrides the provider's setting for this call (reasoning models).
        ``json_schema`` constrains the reply when the server supports it and no grammar is sent."""
        req = self.build_request(messages, request)
        if request.timeout is not None:
            req["timeout"] = request.timeout_within(self.timeout)
        t0 = time.monotonic()
        try:
            completion = self._client.chat.completions.create(**req)
        except Exception as exc:
            err = self._map_error(exc)
            if err is None:  # not an API failure: a bug, let it surface
                raise
            if err.kind == "bad_request" and request.grammar and self.supports_grammar:
                completion = self._without_grammar(req, err)
            elif err.kind == "bad_request" and "response_format" in req:
                completion = self._without_json_schema(req, err)
            else:
                err.latency_s = time.monotonic() - t0
                raise err from exc
        return check_reply(self._parse(completion, time.monotonic() - t0))

    def _without_grammar(self, req: dict[str, Any], refusal: LLMError) -> Any:
        extra = {k: v for k, v in dict(req.get("extra_body") or {}).items()
                 if k not in grammar_body(self.grammar_field, "")}
        plain = {k: v for k, v in req.items() if k != "extra_body"}
        if extra:
            plain["extra_body"] = extra
        return self._retry_plain(plain, refusal, "supports_grammar",
                                 f"the {self.grammar_field!r} grammar field",
                                 f"Set grammar_field ({', '.join(GRAMMAR_FIELDS)}) or supports_grammar: false")

    def _without_json_schema(self, req: dict[str, Any], refusal: LLMError) -> Any:
        plain = {k: v for k, v in req.items() if k != "response_format"}
        return self._retry_plain(plain, refusal, "supports_json_schema", "the JSON-schema response_format",
                                 "Set supports_json_schema: false")

    def _retry_plain(self, plain: dict[str, Any], refusal: LLMError, flag: str, what: str, advice: str) -> Any:
        """The server refused a request carrying a constraint (a grammar or a JSON schema): send it
        once without it. If that works, the constraint was the problem, so stop sending it (said
        once, as a warning); if it fails too, the first error stands and nothing changes."""
        try:
            completion = self._client.chat.completions.create(**plain)
        except Exception:
            raise refusal from None
        setattr(self, flag, False)
        import warnings

        warnings.warn(f"{self.name}: the server refused {what} ({refusal}); edits continue unconstrained. "
                      f"{advice} in llm.model_options to skip the attempt.", stacklevel=3)
        return completion

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embedding vectors from the endpoint's ``/embeddings`` (OpenAI protocol); raises LLMError."""
        t0 = time.monotonic()
        try:
            out = self._client.embeddings.create(model=self.model, input=list(texts))
        except Exception as exc:
            err = self._map_error(exc)
            if err is None:
                raise
            err.latency_s = time.monotonic() - t0
            raise err from exc
        data = sorted(_get(out, "data") or [], key=lambda d: _get(d, "index", 0))
        vectors = [list(map(float, _get(d, "embedding") or [])) for d in data]
        if len(vectors) != len(texts) or any(not v for v in vectors):
            raise LLMError("server", "malformed embeddings response", model=self.name)
        return vectors

    def _parse(self, completion: Any, latency: float) -> LLMResponse:
        choices = _get(completion, "choices")
        if not isinstance(choices, list):
            raise LLMError("server", "malformed response: no 'choices' list", model=self.name,
                           latency_s=latency)
        usage = _get(completion, "usage")
        in_tok = int(_get(usage, "prompt_tokens", 0) or 0)
        out_tok = int(_get(usage, "completion_tokens", 0) or 0)
        reasoning_tok = int(_get(_get(usage, "completion_tokens_details"), "reasoning_tokens", 0) or 0)
        text, reasoning, finish = "", "", ""
        if choices:
            choice = choices[0]
            message = _get(choice, "message")
            text = _get(message, "content", "") or ""
            reasoning = _get(message, "reasoning_content", "") or _get(message, "reasoning", "") or ""
            finish = _get(choice, "finish_reason", "") or ""
        if not isinstance(text, str):  # some servers send content parts
            text = "".join(_get(p, "text", "") for p in text) if isinstance(text, list) else str(text)
        text, think = split_think(text)
        if think and not reasoning:
            reasoning = think
        return LLMResponse(
            text=text, model=self.model, input_tokens=in_tok, output_tokens=out_tok,
            reasoning_tokens=reasoning_tok, latency_s=latency,
            cost_usd=cost_usd(self.pricing_model, in_tok, out_tok, reasoning_tok, self.price_overrides),
            finish_reason=str(finish), reasoning=str(reasoning),
        )

    def _map_error(self, exc: Exception) -> LLMError | None:
        oa = self._openai
        if isinstance(exc, LLMError):
            return exc
        if isinstance(exc, oa.APITimeoutError):
            return LLMError("timeout", "request timed out", model=self.name)
        if isinstance(exc, oa.APIConnectionError):
            return LLMError("connection", f"cannot reach {self.base_url or 'the API'}: {exc}", model=self.name)
        if isinstance(exc, oa.APIStatusError):
            return error_from_status(exc.status_code, _short(exc), headers=exc.response.headers, model=self.name)
        if isinstance(exc, (oa.APIResponseValidationError, json.JSONDecodeError, ValueError)):
            return LLMError("server", f"malformed response: {exc}", model=self.name)
        if isinstance(exc, oa.OpenAIError):
            return LLMError("server", str(exc), model=self.name)
        return None


def _short(exc: Any) -> str:
    """The server's own error message, without the SDK's repetition of the whole body."""
    body = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body["error"] if isinstance(body.get("error"), Mapping) else body
        if inner.get("message"):
            return str(inner["message"])[:500]
    return str(getattr(exc, "message", exc))[:500]
