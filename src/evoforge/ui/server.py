"""The dashboard's HTTP server: stdlib only, JSON API + bundled static assets.

Why so defensive for a local tool: a dashboard shows prompts, code and model replies, and a
browser will happily let any web page it visits send requests to 127.0.0.1. So the server binds
loopback unless told otherwise, refuses non-loopback clients, and rejects requests whose Host
header is not a loopback name (DNS rebinding); pages get a strict Content-Security-Policy and
every piece of text is inserted by the app as text, never as HTML.
"""
from __future__ import annotations

import ipaddress
import json
import re
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import UserError
from ..program import AttemptStatus
from . import data
from .sources import RunHandle, RunRegistry

CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml", ".png": "image/png", ".ico": "image/x-icon", ".txt": "text/plain; charset=utf-8",
}
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
ASSET_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and names that resolve only to them (``localhost``)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    if host == "localhost":
        return True
    try:
        addrs = {str(info[4][0]) for info in socket.getaddrinfo(host, None)}
    except OSError:
        return False
    return bool(addrs) and all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs)


def read_asset(name: str) -> bytes | None:
    """A file of the bundled ``assets/`` folder, or None (no path traversal: plain names only)."""
    if not ASSET_NAME.match(name):
        return None
    node = resources.files("evoforge.ui").joinpath("assets", name)
    return node.read_bytes() if node.is_file() else None


@dataclass(frozen=True)
class RawFile:
    """An endpoint's answer that is a file, not JSON (a research report page), sent with its own CSP."""

    body: bytes
    content_type: str
    csp: str = CSP


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


#: A per-run endpoint: ``(dashboard, run, query, extra path parts) -> JSON-ready value``.
RunEndpoint = Callable[["Dashboard", RunHandle, dict[str, str], list[str]], Any]

#: ``/api/runs/KEY/NAME[/ARG]``: (NAME, number of extra path parts) -> endpoint. One table, so a
#: new view's data is one `run_endpoint` registration, not another branch in the router.
RUN_ENDPOINTS: dict[tuple[str, int], RunEndpoint] = {}


def run_endpoint(name: str, extra: int = 0) -> Callable[[RunEndpoint], RunEndpoint]:
    """Register `fn` as ``GET /api/runs/KEY/<name>`` (with `extra` more path parts: its arguments)."""
    def register(fn: RunEndpoint) -> RunEndpoint:
        if (name, extra) in RUN_ENDPOINTS:
            raise ValueError(f"dashboard endpoint {name!r} with {extra} argument(s) is already registered")
        RUN_ENDPOINTS[(name, extra)] = fn
        return fn
    return register


class Dashboard:
    """The API, independent of HTTP so it can be called directly (tests, the report)."""

    def __init__(self, registry: RunRegistry) -> None:
        self.registry = registry
        self.calls = data.CallCache()

    def _run(self, key: str) -> RunHandle:
        handle = self.registry.get(key)
        if handle is None:
            raise ApiError(404, f"no run {key!r}")
        return handle

    def handle(self, path: str, query: dict[str, list[str]]) -> Any:
        """Route ``/api/...`` paths to JSON-ready values."""
        parts = [unquote(p) for p in path.strip("/").split("/")][1:]  # drop "api"
        q = {k: v[-1] for k, v in query.items()}
        if parts == ["health"]:
            return {"ok": True}
        if parts == ["runs"]:
            return {"runs": [data.run_brief(h) for h in self.registry.runs()]}
        if len(parts) >= 3 and parts[0] == "runs":
            endpoint = RUN_ENDPOINTS.get((parts[2], len(parts) - 3))
            if endpoint is not None:
                return endpoint(self, self._run(parts[1]), q, parts[3:])
        raise ApiError(404, f"no API endpoint {path}")


@run_endpoint("poll")
def _poll(api: Dashboard, handle: RunHandle, q: dict[str, str], _: list[str]) -> Any:
    return data.poll(handle, api.calls, _int(q.get("since_index", "0"), "since_index"))


@run_endpoint("attempts")
def _attempts(api: Dashboard, handle: RunHandle, q: dict[str, str], _: list[str]) -> Any:
    status = q.get("status")
    if status and status not in {s.value for s in AttemptStatus}:
        raise ApiError(400, f"unknown status {status!r}")
    rows = handle.storage.attempts(
        handle.key, status=AttemptStatus(status) if status else None,
        since_index=_int(q.get("since_index", "0"), "since_index"), with_code=False,
        limit=_int(q["limit"], "limit") if "limit" in q else None)
    index = api.calls.get(handle)
    return {"attempts": [data.attempt_row(a, index) for a in rows]}


@run_endpoint("attempts", 1)
def _attempt(api: Dashboard, handle: RunHandle, q: dict[str, str], args: list[str]) -> Any:
    detail = data.attempt_detail(handle, args[0])
    if detail is None:
        raise ApiError(404, f"no attempt {args[0]!r} in run {handle.info.name}")
    return detail


@run_endpoint("usage")
def _usage(api: Dashboard, handle: RunHandle, q: dict[str, str], _: list[str]) -> Any:
    return data.usage(handle)


@run_endpoint("events")
def _events(api: Dashboard, handle: RunHandle, q: dict[str, str], _: list[str]) -> Any:
    return {"events": data.events(handle, q.get("kind") or None)}


@run_endpoint("front")
def _front(api: Dashboard, handle: RunHandle, q: dict[str, str], _: list[str]) -> Any:
    return data.front(handle)


@run_endpoint("failures")
def _failures(api: Dashboard, handle: RunHandle, q: dict[str, str], _: list[str]) -> Any:
    return data.failures(handle.storage.attempts(handle.key, with_code=False))


def _int(text: str, name: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, f"{name} must be an integer, got {text!r}") from None


class Handler(BaseHTTPRequestHandler):
    """GET only: the app shell, assets and the JSON API."""

    server: DashboardServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log is not None:
            self.server.log(f"{self.address_string()} {format % args}")

    def _send(self, status: int, body: bytes, content_type: str, *, cache: bool = False, csp: str = CSP) -> None:
        try:
            self._write(status, body, content_type, cache, csp)
        except ConnectionError:  # the browser navigated away mid-answer: nothing to tell it
            self.close_connection = True

    def _write(self, status: int, body: bytes, content_type: str, cache: bool, csp: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "max-age=60" if cache else "no-store")
        self.send_header("Content-Security-Policy", csp)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: Any) -> None:
        body = json.dumps(value, allow_nan=False, separators=(",", ":")).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _allowed(self) -> str | None:
        """Why this request is refused, or None."""
        if self.server.allow_remote:
            return None
        if not is_loopback(self.client_address[0]):
            return "only local clients may use this dashboard (start it with --allow-remote to change that)"
        host = (self.headers.get("Host") or "").strip()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        if name.lower() not in LOOPBACK_NAMES and not _is_ip_loopback(name):
            return f"unexpected Host header {host!r}: open the dashboard through 127.0.0.1 or localhost"
        return None

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        refusal = self._allowed()
        if refusal:
            self._json(HTTPStatus.FORBIDDEN, {"error": refusal})
            return
        url = urlsplit(self.path)
        path = url.path
        if path.startswith("/api/"):
            try:
                status, value = 200, self.server.api.handle(path, parse_qs(url.query))
            except ApiError as exc:
                status, value = exc.status, {"error": str(exc)}
            except UserError as exc:
                status, value = 400, {"error": str(exc)}
            except Exception as exc:  # noqa: BLE001 - keep serving; a message helps more than a reset connection
                status, value = 500, {"error": f"{type(exc).__name__}: {exc}"}
            if isinstance(value, RawFile):
                self._send(status, value.body, value.content_type, csp=value.csp)
                return
            self._json(status, value)
            return
        name = "index.html" if path in ("/", "/index.html") else path[len("/assets/"):] if path.startswith("/assets/") else ""
        body = read_asset(name) if name else None
        if body is None:
            self._json(404, {"error": f"not found: {path}"})
            return
        suffix = name[name.rfind("."):] if "." in name else ""
        self._send(200, body, CONTENT_TYPES.get(suffix, "application/octet-stream"), cache=name != "index.html")

    def do_POST(self) -> None:
        self._json(HTTPStatus.METHOD_NOT_ALLOWED, {"error": "the dashboard is read-only"})

    do_PUT = do_DELETE = do_PATCH = do_POST


def _is_ip_loopback(name: str) -> bool:
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


class DashboardServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its API and whether remote clients are allowed."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], api: Dashboard, *, allow_remote: bool = False,
                 log: Callable[[str], None] | None = None) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, Handler)
        self.api = api
        self.allow_remote = allow_remote
        self.log = log

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        name = host.decode() if isinstance(host, bytes) else str(host)
        shown = f"[{name}]" if ":" in name else name
        return f"http://{shown}:{port}/"


def make_server(registry: RunRegistry, host: str = "127.0.0.1", port: int = 8765, *, allow_remote: bool = False,
                log: Callable[[str], None] | None = None) -> DashboardServer:
    """Bind the dashboard (port 0 picks a free port). Non-loopback hosts need ``allow_remote``."""
    if not allow_remote and not is_loopback(host):
        raise UserError(f"refusing to listen on {host}: the dashboard shows prompts and code, so it binds only to "
                        "loopback addresses (127.0.0.1, ::1) unless --allow-remote is given")
    try:
        return DashboardServer((host, port), Dashboard(registry), allow_remote=allow_remote, log=log)
    except OSError as exc:
        raise UserError(f"cannot listen on {host}:{port}: {exc.strerror or exc} (try --port 0 for a free port)") from None


def serve(registry: RunRegistry, host: str = "127.0.0.1", port: int = 8765, *, allow_remote: bool = False,
          log: Callable[[str], None] | None = None, ready: Callable[[DashboardServer], None] | None = None) -> None:
    """Serve until interrupted (Ctrl-C)."""
    server = make_server(registry, host, port, allow_remote=allow_remote, log=log)
    try:
        if ready:
            ready(server)
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()


def start_in_thread(registry: RunRegistry, host: str = "127.0.0.1", port: int = 0, **kw: Any) -> DashboardServer:
    """Start a server on a background thread (tests, notebooks); stop it with ``shutdown()``."""
    server = make_server(registry, host, port, **kw)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    return server


from . import research as _research_view  # noqa: E402,F401 - registers the research endpoints (it imports this module)
