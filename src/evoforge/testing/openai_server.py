"""A real, local HTTP server speaking the OpenAI chat-completions protocol, driven by a script.

The protocol itself (routes, completion bodies, the API-key check) is `evoforge.llm.wire_server`,
the server ``evoforge serve-model`` runs; this layer adds the script, the recorded requests and
headers, failure injection (delays, dropped connections, malformed bodies) and embeddings.

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

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..llm.wire_server import HTTPError, Reply, WireHandler, WireServer

__all__ = ["Delay", "Drop", "HTTPError", "Malformed", "Reply", "ScriptItem", "ScriptedOpenAIServer", "delay",
           "drop", "empty", "error", "malformed", "reply"]


@dataclass
class Delay:
    """Wait ``seconds`` before answering with ``then`` (to provoke client timeouts)."""

    seconds: float
    then: ScriptItem = field(default_factory=lambda: Reply("late reply"))


@dataclass
class Malformed:
    """A 200 response whose body is not valid JSON (or not a completion)."""

    body: str = '{"id": "x", "choices": [ {"message": '


@dataclass
class Drop:
    """Close the connection without answering (a proxy or server that died mid-request)."""


ScriptItem = str | Reply | HTTPError | Delay | Malformed | Drop
Responder = Callable[[dict[str, Any]], str | Reply | HTTPError | Delay | Malformed | Drop]


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


class ScriptedOpenAIServer(WireServer):
    """See the module docstring. Thread-safe; start with ``start()`` or ``with``."""

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        responder: Responder | None = None,
        model: str = "scripted-model",
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(responder, model=model, api_key=api_key, host=host, port=port)
        self.script: list[ScriptItem] = list(script)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.max_concurrent = 0
        self._active = 0
        self._lock = threading.Lock()

    def start(self) -> ScriptedOpenAIServer:
        super().start()
        return self

    def __enter__(self) -> ScriptedOpenAIServer:  # noqa: PYI034 - no typing.Self on 3.10
        return self.start()

    # -- script ------------------------------------------------------------------------
    def push(self, *items: ScriptItem) -> None:
        """Append items to the script (between calls of a test)."""
        with self._lock:
            self.script.extend(items)

    def answer(self, body: dict[str, Any]) -> ScriptItem:
        with self._lock:
            self.requests.append(body)
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return HTTPError(500, "script exhausted")

    def completion_id(self) -> str:
        return f"chatcmpl-{len(self.requests)}"

    # -- recording ---------------------------------------------------------------------
    def chat_started(self, body: dict[str, Any], headers: dict[str, str]) -> None:
        with self._lock:
            self.headers.append(headers)
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)

    def chat_finished(self) -> None:
        with self._lock:
            self._active -= 1

    def unauthorized(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(body)

    # -- failure injection and embeddings ---------------------------------------------
    def send(self, conn: WireHandler, item: Any, body: dict[str, Any]) -> None:
        while isinstance(item, Delay):
            if self.closing.wait(item.seconds):
                return
            item = item.then
        if isinstance(item, Drop):
            conn.drop()
        elif isinstance(item, Malformed):
            conn.send_json(200, item.body.encode())
        else:
            super().send(conn, item, body)

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
        with self._lock:
            self.requests.append(body)
        return {"object": "list", "data": data, "model": body.get("model", "scripted"),
                "usage": {"prompt_tokens": 0, "total_tokens": 0}}
