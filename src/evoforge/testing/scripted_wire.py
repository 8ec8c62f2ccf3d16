"""The scripted layer every test server shares, over the production `evoforge.llm.wire_server`.

Why one layer: the OpenAI, Anthropic-Messages and Gemini-generateContent test servers differ
only in routes, the API-key header and the JSON of a reply or an error, which are the protocol
hooks of `WireServer`. The script (consumed one item per model request), the recorded requests,
paths and headers, the concurrency gauge and the failure injection (delays, dropped
connections, malformed bodies, error statuses with ``Retry-After``) are the same, so they are
written once here (`ScriptedServer`) and one script means the same thing on every wire. The
socket handling is the production server's, so what the tests exercise is the code users serve.

* `ScriptedServer`: the scripted layer, speaking the OpenAI protocol (`WireServer`'s defaults);
  `evoforge.testing.openai_server` adds embeddings to it.
* `ScriptedWireServer`: the base of a vendor wire (`anthropic_server`, `gemini_server`), which
  defines `is_model_route`, `key_ok`, `completion` and `error_body`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ..llm.wire_server import HTTPError, Reply, WireHandler, WireServer


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


def words(x: Any) -> int:
    """A rough token count: whitespace-separated words, at least 1."""
    return max(1, len(str(x).split()))


class ScriptedServer(WireServer):
    """A local server answering model requests from a script; see the module docstring.

    ``api_key``: when set, model requests without it (where the protocol puts it) get 401.
    ``requests`` holds every model request body (in the order they were answered), ``paths``
    and ``headers`` the path and headers (lower-cased names) of each model request as it
    arrived. When the script is used up, ``responder(request_json)`` (if given) produces the
    answer, else HTTP 500 "script exhausted". Thread-safe; start with ``start()`` or ``with``.
    """

    def __init__(self, script: Iterable[ScriptItem] = (), *, responder: Responder | None = None,
                 model: str = "scripted-model", **server: Any) -> None:
        """``server``: the other `WireServer` keywords (``api_key``, ``host``, ``port``)."""
        super().__init__(responder, model=model, **server)
        self.script: list[ScriptItem] = list(script)
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.max_concurrent = 0
        self._active = 0
        self.lock = threading.Lock()

    # -- script ------------------------------------------------------------------------
    def push(self, *items: ScriptItem) -> None:
        """Append items to the script (between calls of a test)."""
        with self.lock:
            self.script.extend(items)

    def answer(self, body: dict[str, Any]) -> ScriptItem:
        with self.lock:
            self.requests.append(body)
            if self.script:
                return self.script.pop(0)
        if self.responder is not None:
            return self.responder(body)
        return HTTPError(500, "script exhausted")

    # -- recording ---------------------------------------------------------------------
    def chat_started(self, body: dict[str, Any], headers: dict[str, str], path: str) -> None:
        with self.lock:
            self.paths.append(path)
            self.headers.append(headers)
            self._active += 1
            self.max_concurrent = max(self.max_concurrent, self._active)

    def chat_finished(self) -> None:
        with self.lock:
            self._active -= 1

    def unauthorized(self, body: dict[str, Any]) -> None:
        with self.lock:
            self.requests.append(body)

    # -- failure injection -------------------------------------------------------------
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


class ScriptedWireServer(ScriptedServer):
    """A scripted server for one vendor protocol: a subclass defines `is_model_route`, `key_ok`,
    `completion` and `error_body`. `base_url` is what the vendor SDK's ``base_url`` option takes
    (it appends the versioned path itself), and there is no model list (GET is 404)."""

    protocol = "wire"
    url_path = ""
    models_route = None

    def unauthorized_body(self) -> dict[str, Any]:
        return self.error_body(401, "invalid x-api-key")

    # -- the protocol (a subclass's part) ---------------------------------------------------
    def is_model_route(self, path: str) -> bool:
        """Whether ``path`` (no query string) is this protocol's model-request route."""
        raise NotImplementedError

    def key_ok(self, headers: dict[str, str], query: str) -> bool:
        """Whether the request carries ``api_key`` where this protocol puts it."""
        raise NotImplementedError

    def completion(self, item: Reply, body: dict[str, Any], path: str = "") -> dict[str, Any]:
        """The JSON of a successful reply to a request posted to ``path``."""
        raise NotImplementedError

    def error_body(self, status: int, message: str, kind: str = "scripted") -> dict[str, Any]:
        """The JSON of an error reply with ``status`` (``kind`` is the OpenAI wire's; unused here)."""
        raise NotImplementedError
