"""``evoforge serve-model``: the embedded model (or any GGUF file) behind an OpenAI-compatible
HTTP endpoint on 127.0.0.1, so that other tools — or several evoforge runs — share one loaded
model. It speaks the OpenAI chat-completions protocol of `evoforge.llm.wire_server` (``grammar`` in
the body as llama.cpp's server accepts it); the test suite's scripted server is built on the same
code.
"""
from __future__ import annotations

from typing import Any

from .base import LLMError
from .registry import create_provider
from .wire_server import HTTPError, Reply, WireServer

STATUS_OF_KIND = {"bad_request": 400, "auth": 401, "rate_limit": 429, "timeout": 504, "empty": 502, "truncated": 502}


def make_responder(provider: Any):
    """Turn chat-completion request bodies into provider calls."""

    def respond(body: dict[str, Any]) -> Reply | HTTPError:
        try:
            resp = provider.complete(
                body.get("messages") or [],
                temperature=body.get("temperature", 0.7),
                max_tokens=int(body.get("max_tokens") or body.get("max_completion_tokens") or 512),
                seed=body.get("seed"),
                grammar=body.get("grammar"),
                stop=body.get("stop") if isinstance(body.get("stop"), list) else None,
            )
        except LLMError as exc:
            return HTTPError(STATUS_OF_KIND.get(exc.kind, 500), f"{exc.kind}: {exc}")
        return Reply(resp.text, prompt_tokens=resp.input_tokens, completion_tokens=resp.output_tokens,
                     finish_reason=resp.finish_reason or "stop", model=provider.name)

    return respond


def serve_model(spec: str = "embedded", *, host: str = "127.0.0.1", port: int = 8080) -> WireServer:
    """Start serving `spec` (``embedded`` or ``local/PATH.gguf``); returns the running server."""
    provider = create_provider(spec, retry=False)
    server = WireServer(make_responder(provider), model=spec, host=host, port=port)
    return server.start()
