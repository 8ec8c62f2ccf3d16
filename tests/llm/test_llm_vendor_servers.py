"""The vendor test servers (Anthropic Messages, Gemini generateContent) over the shared scripted
layer: their own routes, key headers and error JSON, the script and recording of every server."""
from __future__ import annotations

import json
import urllib.error
import urllib.request

from evoforge.testing.anthropic_server import ScriptedAnthropicServer
from evoforge.testing.gemini_server import ScriptedGeminiServer
from evoforge.testing.openai_server import ScriptedOpenAIServer, error
from evoforge.testing.scripted_wire import ScriptedServer


def _call(url: str, body: dict | None = None, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_every_test_server_is_the_one_scripted_layer():
    for cls in (ScriptedOpenAIServer, ScriptedAnthropicServer, ScriptedGeminiServer):
        assert issubclass(cls, ScriptedServer)


def test_anthropic_wire():
    with ScriptedAnthropicServer(["hello", error(529, "busy", retry_after=2)], api_key="k") as srv:
        url = srv.base_url + "/v1/messages"
        assert not srv.base_url.endswith("/v1")  # the SDK appends the versioned path
        body = {"model": "claude-x", "messages": [{"role": "user", "content": "hi"}]}
        status, refused = _call(url, body)
        assert status == 401 and refused == {"type": "error", "error": {
            "type": "authentication_error", "message": "invalid x-api-key"}}
        status, ok = _call(url, body, {"x-api-key": "k"})
        assert status == 200 and ok["content"] == [{"type": "text", "text": "hello"}] and ok["type"] == "message"
        status, busy = _call(url, body, {"x-api-key": "k"})
        assert status == 529 and busy["error"]["type"] == "overloaded_error"
        assert _call(srv.base_url + "/v1/models")[0] == 404  # no model list on this wire
        assert _call(srv.base_url + "/v1/nope", body)[1]["error"]["type"] == "not_found_error"
        assert len(srv.requests) == 3 and srv.paths == ["/v1/messages"] * 3 and srv.headers[1]["x-api-key"] == "k"


def test_gemini_wire():
    with ScriptedGeminiServer(["hi there"], api_key="k") as srv:
        url = srv.base_url + "/v1beta/models/gemini-2.5-flash:generateContent"
        body = {"contents": [{"role": "user", "parts": [{"text": "x"}]}]}
        assert _call(url, body)[1]["error"]["status"] == "UNAUTHENTICATED"
        status, ok = _call(url + "?key=k", body)
        assert status == 200 and ok["modelVersion"] == "gemini-2.5-flash"
        assert ok["candidates"][0]["content"]["parts"] == [{"text": "hi there"}]
        status, gone = _call(url, body, {"x-goog-api-key": "k"})
        assert status == 500 and gone["error"]["message"] == "script exhausted"
