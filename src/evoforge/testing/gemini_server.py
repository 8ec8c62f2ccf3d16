"""A real, local HTTP server speaking the Gemini API's ``generateContent`` protocol
(``POST /v1beta/models/MODEL:generateContent``), driven by a script: the ``google-genai`` SDK
is pointed at it with ``http_options={"base_url": ...}``.

Why: as for `evoforge.testing.anthropic_server`, the native SDK's transport errors, timeouts,
thought parts and token accounting only show up over a real socket. Script items are those of
`evoforge.testing.openai_server` and mean the same here:

* `Reply` → one candidate whose parts are a ``thought`` part (``reasoning_content``) and a
  text part; ``finish_reason`` "stop"/"length"/"content_filter" becomes ``finishReason``
  "STOP"/"MAX_TOKENS"/"SAFETY". ``completion_tokens`` counts thoughts too (the OpenAI
  convention), so ``candidatesTokenCount`` is ``completion_tokens - reasoning_tokens`` and
  ``thoughtsTokenCount`` is ``reasoning_tokens``, as Gemini reports them.
* `HTTPError` → Google's ``{"error": {"code", "message", "status"}}``, with ``Retry-After``.

Usage::

    with ScriptedGeminiServer([error(429), reply("hi")]) as srv:
        create_provider(f"google/gemini-2.5-flash@{srv.base_url}").complete([...])
        assert srv.requests[1]["generationConfig"]["maxOutputTokens"] == 1024
"""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from .openai_server import Reply
from .scripted_wire import ScriptedWireServer, words

_ROUTE = re.compile(r"^/v1(?:beta|alpha)?/models/[^/:]+:generateContent$")
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
           429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}
_FINISH = {"stop": "STOP", "length": "MAX_TOKENS", "content_filter": "SAFETY"}


def _text_of(content: Any) -> str:
    if not isinstance(content, dict):
        return ""
    return " ".join(str(p.get("text", "")) for p in content.get("parts") or [] if isinstance(p, dict))


class ScriptedGeminiServer(ScriptedWireServer):
    """See the module docstring. ``api_key`` is checked against ``x-goog-api-key`` (or ``?key=``)."""

    protocol = "gemini"

    def is_model_route(self, path: str) -> bool:
        return bool(_ROUTE.match(path))

    def key_ok(self, headers: dict[str, str], query: str) -> bool:
        return (headers.get("x-goog-api-key") or (parse_qs(query).get("key") or [None])[0]) == self.api_key

    def completion(self, item: Reply, body: dict[str, Any], path: str = "") -> dict[str, Any]:
        prompt = item.prompt_tokens
        if prompt is None:
            system = body.get("systemInstruction")
            prompt = (words(_text_of(system)) if system else 0) + sum(
                words(_text_of(c)) for c in body.get("contents", []))
        output = item.completion_tokens
        if output is None:
            output = (words(item.text) if item.text else 0) + item.reasoning_tokens
        parts: list[dict[str, Any]] = []
        if item.reasoning_content is not None:
            parts.append({"text": item.reasoning_content, "thought": True})
        if item.text:
            parts.append({"text": item.text})
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": max(0, output - item.reasoning_tokens),
                 "totalTokenCount": prompt + output}
        if item.reasoning_tokens:
            usage["thoughtsTokenCount"] = item.reasoning_tokens
        model = item.model or path.rsplit("/", 1)[-1].split(":", 1)[0] or self.model
        return {
            "candidates": [{"content": {"role": "model", "parts": parts}, "index": 0,
                            "finishReason": _FINISH.get(item.finish_reason, item.finish_reason.upper())}],
            "usageMetadata": usage, "modelVersion": model,
        }

    def error_body(self, status: int, message: str, kind: str = "scripted") -> dict[str, Any]:
        return {"error": {"code": status, "message": message,
                          "status": _STATUS.get(status, "INTERNAL" if status >= 500 else "FAILED_PRECONDITION")}}
