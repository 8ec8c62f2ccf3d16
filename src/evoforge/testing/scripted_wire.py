"""The scripted-server core shared by the vendor wire servers (`anthropic_server`, `gemini_server`).

Why a core of its own: the Anthropic-Messages and Gemini-generateContent test servers differ
only in routes, the API-key header and the JSON of a reply or an error. The script (consumed
one item per model request), the recorded requests and headers, the concurrency gauge and the
failure injection (delays, dropped connections, malformed bodies, error statuses with
``Retry-After``) are the same, and they use the very script items of the OpenAI test server
(`evoforge.testing.openai_server`), so one script means the same thing on every wire.

A subclass defines `route`, `key_ok`, `reply_body` and `error_body`; the core does the rest.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from .openai_server import Delay, Drop, HTTPError, Malformed, Reply, ScriptItem

Responder = Callable[[dict[str, Any]], ScriptItem]


def words(x: Any) -> int:
    """A rough token count: whitespace-separated words, at least 1."""
    return max(1, len(str(x).split()))


class ScriptedWireServer:
    """A local scripted server for one vendor protocol; see the module docstring.

    ``api_key``: when set, model requests without it (in the protocol's key header) get 401.
    ``requests`` holds every model request body, ``paths`` the path each was posted to and
    ``headers`` their headers (lower-cased names). Thread-safe; start with ``start()`` or ``with``.
    """

    protocol = "wire"

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
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.max_concurrent = 0
        self._active = 0
        self.lock = threading.Lock()
        self.closing = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> ScriptedWireServer:
        handler = type("_Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer((self.host, self.requested_port), handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         name=f"scripted-{self.protocol}", daemon=True).start()
        return self

    def close(self) -> None:
        self.closing.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> ScriptedWireServer:  # noqa: PYI034 - no typing.Self on 3.10
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        """What the vendor SDK's ``base_url`` option takes (it appends the versioned path)."""
        return f"http://127.0.0.1:{self.port}"

    # -- script ------------------------------------------------------------------------
    def push(self, *items: ScriptItem) -> None:
        """Append items to the script (between calls of a test)."""
        with self.lock:
            self.script.extend(items)

    def next_item(self, body: dict[str, Any]) -> ScriptItem:
        with self.lock:
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return HTTPError(500, "script exhausted")

    # -- the protocol (a subclass's part) ---------------------------------------------------
    def route(self, path: str) -> bool:
        """Whether ``path`` (no query string) is this protocol's model-request route."""
        raise NotImplementedError

    def key_ok(self, headers: dict[str, str], query: str) -> bool:
        """Whether the request carries ``api_key`` where this protocol puts it."""
        raise NotImplementedError

    def reply_body(self, item: Reply, body: dict[str, Any], path: str) -> dict[str, Any]:
        """The JSON of a successful reply."""
        raise NotImplementedError

    def error_body(self, status: int, message: str) -> dict[str, Any]:
        """The JSON of an error reply with ``status``."""
        raise NotImplementedError


class _Handler(BaseHTTPRequestHandler):
    owner: ScriptedWireServer
    protocol_version = "HTTP/1.1"
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
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            self.close_connection = True

    def do_GET(self) -> None:
        self._send(404, self.owner.error_body(404, f"no route {self.path}"))

    def do_POST(self) -> None:
        owner = self.owner
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        if not owner.route(parts.path):
            self._send(404, owner.error_body(404, f"no route {parts.path}"))
            return
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            self._send(400, owner.error_body(400, "request body is not JSON"))
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        with owner.lock:
            owner.requests.append(body)
            owner.paths.append(parts.path)
            owner.headers.append(headers)
            owner._active += 1
            owner.max_concurrent = max(owner.max_concurrent, owner._active)
        try:
            if owner.api_key is not None and not owner.key_ok(headers, parts.query):
                self._send(401, owner.error_body(401, "invalid x-api-key"))
                return
            self._answer(owner.next_item(body), body, parts.path)
        finally:
            with owner.lock:
                owner._active -= 1

    def _answer(self, item: ScriptItem, body: dict[str, Any], path: str) -> None:
        owner = self.owner
        while isinstance(item, Delay):
            if owner.closing.wait(item.seconds):
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
        elif isinstance(item, HTTPError):
            headers = dict(item.headers)
            if item.retry_after is not None:
                headers["Retry-After"] = str(item.retry_after)
            self._send(item.status, owner.error_body(item.status, item.message), headers)
        elif isinstance(item, Malformed):
            self._send(200, item.body.encode())
        elif isinstance(item, Reply):
            self._send(200, owner.reply_body(item, body, path))
        else:
            self._send(500, owner.error_body(500, f"bad script item {item!r}"))
