"""The production OpenAI-protocol server (`evoforge.llm.wire_server`), which serve-model runs,
spoken to over a real socket by the real OpenAI-compatible provider and by plain urllib."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.error
import urllib.request

import pytest

import evoforge
from evoforge.llm.base import LLMError
from evoforge.llm.registry import create_provider
from evoforge.llm.wire_server import HTTPError, Reply, WireServer


def _post(url: str, data: bytes, headers: dict[str, str] | None = None) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_a_responder_answers_chat_completions_with_usage():
    seen = []

    def respond(body):
        seen.append(body)
        return Reply("hello " + body["messages"][-1]["content"], prompt_tokens=7, completion_tokens=2, model="m1")

    with WireServer(respond, model="served") as srv:
        client = create_provider(f"openai/served@{srv.base_url}", retry=False)
        resp = client.complete([{"role": "user", "content": "there"}], max_tokens=8, seed=5)
        with urllib.request.urlopen(srv.base_url + "/models", timeout=30) as r:
            models = json.loads(r.read())
    assert resp.text == "hello there" and resp.input_tokens == 7 and resp.output_tokens == 2
    assert seen[0]["seed"] == 5 and seen[0]["max_tokens"] == 8
    assert [m["id"] for m in models["data"]] == ["served"]


def test_errors_keys_and_bad_requests(monkeypatch):
    monkeypatch.setenv("WIRE_TEST_KEY", "k")
    with WireServer(lambda body: HTTPError(429, "slow down", retry_after=1), api_key="k") as srv:
        url = srv.base_url + "/chat/completions"
        body = json.dumps({"messages": [{"role": "user", "content": "x"}]}).encode()
        assert _post(url, body)[0] == 401                                      # no key
        status, payload = _post(url, body, {"Authorization": "Bearer k"})
        assert status == 429 and payload["error"]["message"] == "slow down"
        assert _post(url, b"not json", {"Authorization": "Bearer k"})[0] == 400
        assert _post(srv.base_url + "/embeddings", body)[0] == 404             # not served in production
        client = create_provider(f"openai/x@{srv.base_url}", retry=False, api_key_env="WIRE_TEST_KEY")
        with pytest.raises(LLMError) as err:
            client.complete([{"role": "user", "content": "x"}], max_tokens=4)
        assert err.value.kind == "rate_limit"


def test_without_a_responder_it_says_so():
    with WireServer() as srv:
        status, payload = _post(srv.base_url + "/chat/completions", b"{}")
    assert status == 500 and "no responder" in payload["error"]["message"]


def test_serve_model_needs_nothing_from_the_test_helpers():
    code = ("import sys, evoforge.llm.serve, evoforge.llm.serve_cli, evoforge.cli\n"
            "evoforge.cli.build_parser()\n"
            "bad = sorted(m for m in sys.modules if m.startswith('evoforge.testing'))\n"
            "print(bad); sys.exit(1 if bad else 0)")
    src = os.path.dirname(os.path.dirname(evoforge.__file__))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr


class _VendorWire(WireServer):
    """A wire with its own route, key header and error JSON (as the Anthropic and Gemini test
    servers need)."""

    def is_model_route(self, path):
        return path.endswith("/messages")

    def key_ok(self, headers, query):
        return headers.get("x-api-key") == self.api_key

    def error_body(self, status, message, kind="scripted"):
        return {"type": "error", "error": {"type": f"e{status}", "message": message}}


def test_a_subclass_changes_the_wire_not_the_server():
    with _VendorWire(lambda body: HTTPError(503, "busy"), api_key="k") as srv:
        base = f"http://127.0.0.1:{srv.port}/v1"
        body = json.dumps({"messages": []}).encode()
        assert _post(base + "/messages", body, {"Authorization": "Bearer k"})[0] == 401
        assert _post(base + "/messages", body, {"x-api-key": "k"}) == (503, {"type": "error",
                                                                         "error": {"type": "e503", "message": "busy"}})
        assert _post(base + "/chat/completions", body, {"x-api-key": "k"})[1]["error"]["type"] == "e404"
