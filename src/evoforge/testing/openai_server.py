"""A real, local HTTP server speaking the OpenAI chat-completions protocol, driven by a script.

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

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """A normal completion. Token counts default to rough word counts."""

    text: str | None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int = 0
    finish_reason: str = "stop"
    reasoning_content: str | None = None
    model: str | None = None


@dataclass
class HTTPError:
    """An HTTP error status with an OpenAI-style error body."""

    status: int
    message: str = "scripted error"
    retry_after: str | float | None = None
    headers: dict[str, str] = field(default_factory=dict)


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


def _words(x: Any) -> int:
    return max(1, len(str(x).split()))


class ScriptedOpenAIServer:
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
        self.host, self.requested_port = host, port
        self.script: list[ScriptItem] = list(script)
        self.responder = responder
        self.model = model
        self.api_key = api_key  # when set, requests without "Bearer <api_key>" get 401
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.max_concurrent = 0
        self._active = 0
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> ScriptedOpenAIServer:
        handler = type("_Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer((self.host, self.requested_port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="scripted-openai", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self._closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedOpenAIServer:  # noqa: PYI034 - no typing.Self on 3.10
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- script ------------------------------------------------------------------------
    def push(self, *items: ScriptItem) -> None:
        """Append items to the script (between calls of a test)."""
        with self._lock:
            self.script.extend(items)

    def _next(self, body: dict[str, Any]) -> ScriptItem:
        with self._lock:
            self.requests.append(body)
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return HTTPError(500, "script exhausted")

    def completion(self, item: Reply, body: dict[str, Any]) -> dict[str, Any]:
        prompt = item.prompt_tokens
        if prompt is None:
            prompt = sum(_words(m.get("content", "")) for m in body.get("messages", []))
        completion = item.completion_tokens
        if completion is None:
            completion = (_words(item.text) if item.text else 0) + item.reasoning_tokens
        message: dict[str, Any] = {"role": "assistant", "content": item.text}
        if item.reasoning_content is not None:
            message["reasoning_content"] = item.reasoning_content
        return {
            "id": f"chatcmpl-{len(self.requests)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": item.model or body.get("model") or self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": item.finish_reason}],
            "usage": {
                "prompt_tokens": prompt,
                "completion_tokens": completion,
                "total_tokens": prompt + completion,
                "completion_tokens_details": {"reasoning_tokens": item.reasoning_tokens},
            },
        }


class _Handler(BaseHTTPRequestHandler):
    owner: ScriptedOpenAIServer
    protocol_version = "HTTP/1.1"  # keep-alive: fast enough for benchmark use
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
            self.close_connection = True

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, {"object": "list", "data": [
                {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "evoforge"}]})
        else:
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if self.path.rstrip("/").endswith("/embeddings"):
            self._embeddings(raw)
            return
        if not self.path.rstrip("/").endswith("/chat/completions"):
            self._send(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
            return
        owner = self.owner
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, {"error": {"message": "request body is not JSON", "type": "invalid_request_error"}})
            return
        with owner._lock:
            owner.headers.append({k.lower(): v for k, v in self.headers.items()})
            owner._active += 1
            owner.max_concurrent = max(owner.max_concurrent, owner._active)
        try:
            if owner.api_key is not None and self.headers.get("Authorization") != f"Bearer {owner.api_key}":
                with owner._lock:
                    owner.requests.append(body)
                self._send(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",
                                           "code": "invalid_api_key"}})
                return
            self._answer(owner._next(body), body)
        finally:
            with owner._lock:
                owner._active -= 1

    def _embeddings(self, raw: bytes) -> None:
        """Deterministic bag-of-words vectors (64 dims): similar texts get similar vectors, which
        is all a test of an embedding-similarity filter needs."""
        import hashlib
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
        with self.owner._lock:
            self.owner.requests.append(body)
        self._send(200, {"object": "list", "data": data, "model": body.get("model", "scripted"),
                         "usage": {"prompt_tokens": 0, "total_tokens": 0}})

    def _answer(self, item: ScriptItem, body: dict[str, Any]) -> None:
        owner = self.owner
        while isinstance(item, Delay):
            if owner._closing.wait(item.seconds):
                return
            item = item.then
        if isinstance(item, str):
            item = Reply(item)
        if isinstance(item, Drop):
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        if isinstance(item, HTTPError):
            headers = dict(item.headers)
            if item.retry_after is not None:
                headers["Retry-After"] = str(item.retry_after)
            self._send(item.status, {"error": {"message": item.message, "type": "scripted", "code": item.status}},
                       headers)
        elif isinstance(item, Malformed):
            self._send(200, item.body.encode())
        elif isinstance(item, Reply):
            self._send(200, owner.completion(item, body))
        else:
            self._send(500, {"error": {"message": f"bad script item {item!r}", "type": "scripted"}})
