"""A real, local HTTP server speaking the OpenAI chat-completions protocol, driven by a script.

The protocol itself (routes, completion bodies, the API-key check) is `evoforge.llm.wire_server`,
the server ``evoforge serve-model`` runs; the script, the recorded requests and headers and the
failure injection (delays, dropped connections, malformed bodies) are the scripted layer all
test servers share (`evoforge.testing.scripted_wire`); this module adds embeddings.

Why a real server instead of mocking the SDK: retries, timeouts, Retry-After headers,
malformed bodies and connection handling are exactly where provider code breaks, and they
only happen for real over a socket. The server binds 127.0.0.1 on a free port, is fast enough
to serve as an "instant scripted model" in benchmarks (keep-alive, no logging), and records
every request body so tests can assert what was sent (seed, temperature, grammar …).

Usage::

    with ScriptedOpenAIServer([error(429, retry_after=0.2), reply("hi")]) as srv:
        create_provider(f"openai/test@{srv.base_url}").complete([...])
        assert srv.requests[0]["seed"] == 1

Script items are consumed in order, one per chat request; a plain string is a text reply.
When the script is used up, ``responder(request_json)`` (if given) produces the reply,
else the server answers HTTP 500 "script exhausted".
"""
from __future__ import annotations

from typing import Any

from ..llm.wire_server import HTTPError, Reply, WireHandler
from .scripted_wire import Delay, Drop, Malformed, Responder, ScriptedServer, ScriptItem  # noqa: F401 - names this module always offered

__all__ = ["Delay", "Drop", "HTTPError", "Malformed", "Reply", "ScriptItem", "ScriptedOpenAIServer", "delay",
           "drop", "empty", "error", "malformed", "reply"]


def reply(text: str, **kw: Any) -> Reply:
    return Reply(text, **kw)


def empty(finish_reason: str = "stop", **kw: Any) -> Reply:
    """A completion whose content is empty (a real failure mode of small/overloaded models)."""
    return Reply("", finish_reason=finish_reason, **kw)


def error(status: int, message: str = "scripted error", retry_after: str | float | None = None) -> HTTPError:
    return HTTPError(status, message, retry_after)


def delay(seconds: float, then: ScriptItem = "late reply") -> Delay:
    return Delay(seconds, then)


def drop() -> Drop:
    return Drop()


def malformed(body: str = Malformed.body) -> Malformed:
    return Malformed(body)


class ScriptedOpenAIServer(ScriptedServer):
    """See the module docstring. Thread-safe; start with ``start()`` or ``with``. The script,
    recording and failure injection are `ScriptedServer`'s; this adds ``/embeddings``."""

    def completion_id(self) -> str:
        return f"chatcmpl-{len(self.requests)}"

    # -- embeddings --------------------------------------------------------------------
    def post_route(self, conn: WireHandler, path: str, raw: bytes) -> bool:
        if not path.endswith("/embeddings"):
            return False
        conn.send_json(200, self._embeddings(raw))
        return True

    def _embeddings(self, raw: bytes) -> dict[str, Any]:
        """Deterministic bag-of-words vectors (64 dims): similar texts get similar vectors, which
        is all a test of an embedding-similarity filter needs."""
        import hashlib
        import json
        import math
        import re as _re

        body = json.loads(raw or b"{}")
        texts = body.get("input") or []
        texts = [texts] if isinstance(texts, str) else texts
        data = []
        for i, text in enumerate(texts):
            vec = [0.0] * 64
            for word in _re.findall(r"[A-Za-z_]+|\d+", str(text)):
                vec[int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
            norm = math.sqrt(sum(v * v for v in vec)) or 1.0
            data.append({"object": "embedding", "index": i, "embedding": [v / norm for v in vec]})
        with self.lock:
            self.requests.append(body)
        return {"object": "list", "data": data, "model": body.get("model", "scripted"),
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}
