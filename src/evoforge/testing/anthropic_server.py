"""A real, local HTTP server speaking the Anthropic Messages protocol (``POST /v1/messages``),
driven by a script: the ``anthropic`` SDK is pointed at it with ``base_url``.

Why: the native-SDK provider's error mapping, timeouts, thinking blocks and token accounting
only break for real over a socket, with the SDK's own parsing in the loop. Script items are
those of `evoforge.testing.openai_server` (``reply``, ``error``, ``delay``, ``drop``,
``malformed``, ``empty``) and mean the same here:

* `Reply` → a ``message`` with a ``text`` block (and a ``thinking`` block for
  ``reasoning_content``); ``finish_reason`` "stop"/"length"/"content_filter" becomes
  ``stop_reason`` "end_turn"/"max_tokens"/"refusal". ``completion_tokens`` is
  ``usage.output_tokens`` (thinking included, as Anthropic bills it) and ``reasoning_tokens``
  ``usage.output_tokens_details.thinking_tokens``.
* `HTTPError` → Anthropic's ``{"type": "error", "error": {"type": ..., "message": ...}}``
  (529 is ``overloaded_error``), with ``Retry-After`` when given.

Usage::

    with ScriptedAnthropicServer([error(529), reply("hi")]) as srv:
        create_provider(f"anthropic/claude-sonnet-4-5@{srv.base_url}").complete([...])
        assert srv.requests[0]["max_tokens"] == 1024
"""
from __future__ import annotations

from typing import Any

from .openai_server import Reply
from .scripted_wire import ScriptedWireServer, words

_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
                404: "not_found_error", 413: "request_too_large", 429: "rate_limit_error",
                500: "api_error", 529: "overloaded_error"}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(b.get("text", "")) for b in content if isinstance(b, dict))
    return ""


class ScriptedAnthropicServer(ScriptedWireServer):
    """See the module docstring. ``api_key`` is checked against the ``x-api-key`` header, or
    ``Authorization: Bearer`` (which recent SDK releases send instead)."""

    protocol = "anthropic"

    def is_model_route(self, path: str) -> bool:
        return path.rstrip("/") == "/v1/messages"

    def key_ok(self, headers: dict[str, str], query: str) -> bool:
        return self.api_key in (headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer "))

    def completion(self, item: Reply, body: dict[str, Any], path: str = "") -> dict[str, Any]:
        prompt = item.prompt_tokens
        if prompt is None:
            prompt = (words(_text_of(body.get("system"))) if body.get("system") else 0) + sum(
                words(_text_of(m.get("content"))) for m in body.get("messages", []))
        output = item.completion_tokens
        if output is None:
            output = (words(item.text) if item.text else 0) + item.reasoning_tokens
        content: list[dict[str, Any]] = []
        if item.reasoning_content is not None:
            content.append({"type": "thinking", "thinking": item.reasoning_content, "signature": "scripted"})
        if item.text is not None:
            content.append({"type": "text", "text": item.text})
        usage: dict[str, Any] = {"input_tokens": prompt, "output_tokens": output}
        if item.reasoning_tokens:
            usage["output_tokens_details"] = {"thinking_tokens": item.reasoning_tokens}
        with self.lock:
            n = len(self.requests)
        return {
            "id": f"msg_{n:06d}", "type": "message", "role": "assistant",
            "model": item.model or body.get("model") or self.model, "content": content,
            "stop_reason": _STOP_REASONS.get(item.finish_reason, item.finish_reason),
            "stop_sequence": None, "usage": usage,
        }

    def error_body(self, status: int, message: str, kind: str = "scripted") -> dict[str, Any]:
        kind = _ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": kind, "message": message}}
