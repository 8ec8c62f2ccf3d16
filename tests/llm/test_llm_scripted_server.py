"""The scripted OpenAI-compatible server itself: routes, script semantics, bookkeeping."""
from __future__ import annotations

import json
import pickle
import urllib.error
import urllib.request

import pytest

from evoforge.llm import LLMError, create_provider
from evoforge.testing.openai_server import ScriptedOpenAIServer, error, reply


def _post(url: str, body: dict) -> tuple[int, dict]:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_routes_and_exhausted_script():
    with ScriptedOpenAIServer(["one"], model="m1") as srv:
        assert srv.base_url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(srv.base_url + "/models", timeout=5) as r:
            assert json.loads(r.read())["data"][0]["id"] == "m1"
        status, body = _post(srv.base_url + "/chat/completions", {"model": "m1", "messages": []})
        assert status == 200 and body["choices"][0]["message"]["content"] == "one"
        status, body = _post(srv.base_url + "/chat/completions", {"model": "m1", "messages": []})
        assert status == 500 and "script exhausted" in body["error"]["message"]
        assert _post(srv.base_url + "/nope", {})[0] == 404
        assert len(srv.requests) == 2


def test_responder_may_return_script_items():
    calls = iter([error(503, retry_after=0), reply("after retry", completion_tokens=9)])
    with ScriptedOpenAIServer(responder=lambda body: next(calls)) as srv:
        r = create_provider(f"openai/scripted@{srv.base_url}", retry={"base_delay": 0.01}).complete(
            [{"role": "user", "content": "x"}])
        assert (r.text, r.output_tokens, r.attempts) == ("after retry", 9, 2)


def test_llm_error_pickles():
    err = LLMError("rate_limit", "slow down", status=429, retry_after=1.5, model="openai/x", input_tokens=3)
    err.attempts = 4
    back = pickle.loads(pickle.dumps(err))
    assert (back.kind, back.status, back.retry_after, back.attempts, back.input_tokens) == ("rate_limit", 429, 1.5, 4, 3)
    assert str(back) == str(err)
    with pytest.raises(ValueError):
        LLMError("weird", "x")
