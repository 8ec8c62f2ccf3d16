"""The server side of the OpenAI chat-completions protocol, on 127.0.0.1 by default.

Why here, in production code: ``evoforge serve-model`` puts a loaded model behind this protocol
so that other tools and several runs share it. The test suite's scripted server
(`evoforge.testing.openai_server`) is a thin layer over this one that adds a script, recorded
requests and failure injection, so that what the tests exercise over a socket is the very code
users serve with.

What is served: ``GET …/models`` (one model), ``POST …/chat/completions`` (the body goes to a
responder, a function of the request JSON that returns a `Reply` or an `HTTPError`; a plain
string is a text reply). A subclass may serve more POST routes (`post_route`), watch each chat
request (`chat_started` / `chat_finished` / `unauthorized`) and send more kinds of answer
(`send`); a vendor's wire (Anthropic Messages, Gemini generateContent) differs only in
`is_model_route`, `key_ok`, `completion`, `error_body` and `unauthorized_body`, the path
`base_url` ends in (`url_path`) and whether it lists models (`models_route`). Keep-alive
HTTP/1.1, no logging, one thread per connection.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar


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


Answer = str | Reply | HTTPError
Responder = Callable[[dict[str, Any]], Any]
_Server = TypeVar("_Server", bound="WireServer")


def _words(x: Any) -> int:
    return max(1, len(str(x).split()))


class WireServer:
    """An OpenAI-compatible HTTP endpoint answering chat completions with `responder`.

    `api_key`: when set, chat requests without ``Authorization: Bearer <api_key>`` get 401.
    Start with ``start()`` or ``with``; `base_url` is what an ``openai/MODEL@URL`` string needs."""

    protocol = "openai"                 # names the serving thread
    url_path = "/v1"                    # what `base_url` ends in (where the client's routes start)
    models_route: str | None = "/models"  # GET route listing the model; None: no such route (404)

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        model: str = "evoforge",
        api_key: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.host, self.requested_port = host, port
        self.responder = responder
        self.model = model
        self.api_key = api_key
        self.closing = threading.Event()   # set by close(): answers that wait give up
        self._ids = itertools.count(1)
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self: _Server) -> _Server:
        handler = type("WireHandler", (WireHandler,), {"owner": self})
        self._httpd = ThreadingHTTPServer((self.host, self.requested_port), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{self.protocol}-wire", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        self.closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self: _Server) -> _Server:  # noqa: PYI019 - no typing.Self on 3.10
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.url_path}"

    # -- hooks a subclass may override ---------------------------------------------------
    def answer(self, body: dict[str, Any]) -> Any:
        """What to send for one authorised chat request."""
        if self.responder is None:
            return HTTPError(500, "no responder")
        return self.responder(body)

    def chat_started(self, body: dict[str, Any], headers: dict[str, str], path: str) -> None:
        """Called for each chat request whose body is JSON (posted to ``path``, no query
        string), before the key is checked."""

    def chat_finished(self) -> None:
        """Called when a chat request started with `chat_started` has been answered."""

    def unauthorized(self, body: dict[str, Any]) -> None:
        """Called for a chat request refused for a missing or wrong key."""

    def is_model_route(self, path: str) -> bool:
        """Whether a POST to `path` (no query string) is a model request."""
        return path.rstrip("/").endswith("/chat/completions")

    def key_ok(self, headers: dict[str, str], query: str) -> bool:
        """Whether a request carries `api_key` where the protocol puts it (header names lower-cased)."""
        return headers.get("authorization") == f"Bearer {self.api_key}"

    def error_body(self, status: int, message: str, kind: str = "scripted") -> dict[str, Any]:
        """The protocol's JSON for an error reply."""
        body: dict[str, Any] = {"message": message, "type": kind}
        if kind == "scripted":
            body["code"] = status
        return {"error": body}

    def unauthorized_body(self) -> dict[str, Any]:
        """The protocol's JSON for a refused key (status 401)."""
        error = self.error_body(401, "Incorrect API key provided", "invalid_request_error")
        error["error"]["code"] = "invalid_api_key"
        return error

    def post_route(self, conn: WireHandler, path: str, raw: bytes) -> bool:
        """Serve a POST route other than chat completions; False: not served here (404)."""
        return False

    def send(self, conn: WireHandler, item: Any, body: dict[str, Any]) -> None:
        """Send an answer: a `Reply`, an `HTTPError` or a plain string (a text reply)."""
        if isinstance(item, str):
            item = Reply(item)
        if isinstance(item, HTTPError):
            headers = dict(item.headers)
            if item.retry_after is not None:
                headers["Retry-After"] = str(item.retry_after)
            conn.send_json(item.status, self.error_body(item.status, item.message), headers)
        elif isinstance(item, Reply):
            conn.send_json(200, self.completion(item, body, conn.path.partition("?")[0]))
        else:
            conn.send_json(500, self.error_body(500, f"bad script item {item!r}"))

    # -- the protocol ------------------------------------------------------------------
    def completion_id(self) -> str:
        return f"chatcmpl-{next(self._ids)}"

    def completion(self, item: Reply, body: dict[str, Any], path: str = "") -> dict[str, Any]:
        """The chat-completion JSON for `item`, usage included (estimated when not given).
        ``path`` is the route the request was posted to (a protocol may name the model there)."""
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
            "id": self.completion_id(),
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


class WireHandler(BaseHTTPRequestHandler):
    """One connection of a `WireServer`; `send_json` and `drop` are what `WireServer.send` uses."""

    owner: WireServer
    protocol_version = "HTTP/1.1"  # keep-alive: fast enough for benchmark use
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        """Send `payload` (JSON-able, or bytes sent as they are) with a JSON content type."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout)
            self.close_connection = True

    def drop(self) -> None:
        """Close the connection without answering."""
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _not_found(self) -> None:
        self.send_json(404, self.owner.error_body(404, f"no route {self.path}", "not_found"))

    def do_GET(self) -> None:
        route = self.owner.models_route
        if route is not None and self.path.rstrip("/").endswith(route):
            self.send_json(200, {"object": "list", "data": [
                {"id": self.owner.model, "object": "model", "created": 0, "owned_by": "evoforge"}]})
        else:
            self._not_found()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        owner = self.owner
        path, _, query = self.path.partition("?")
        if not owner.is_model_route(path):
            if not owner.post_route(self, path.rstrip("/"), raw):
                self._not_found()
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self.send_json(400, owner.error_body(400, "request body is not JSON", "invalid_request_error"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        owner.chat_started(body, headers, path)
        try:
            if owner.api_key is not None and not owner.key_ok(headers, query):
                owner.unauthorized(body)
                self.send_json(401, owner.unauthorized_body())
                return
            owner.send(self, owner.answer(body), body)
        finally:
            owner.chat_finished()
