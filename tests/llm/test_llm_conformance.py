"""The provider conformance suite: every provider that speaks the OpenAI protocol (each model-string
prefix, and a model served by `evoforge serve-model`) behaves the same against a real local server
returning scripted replies, 429 with Retry-After, 500, slow responses, dropped connections and
malformed JSON."""
from __future__ import annotations

import time

import pytest

from evoforge.llm.base import LLMError
from evoforge.llm.registry import create_provider
from evoforge.llm.serve import make_responder
from evoforge.testing.openai_server import ScriptedOpenAIServer, delay, drop, error, malformed, reply

PREFIXES = ["openai", "ollama", "vllm", "llamacpp", "openrouter", "deepseek", "gemini", "served"]
FAST_RETRY = {"max_attempts": 4, "base_delay": 0.01, "max_delay": 0.05, "call_budget_s": 120}
# per-request timeouts far above a local reply even on a loaded machine; the slow reply is slower still
INNER_TIMEOUT, TIMEOUT, SLOW = 4, 8, 30
MESSAGES = [{"role": "user", "content": "say something"}]


class Endpoint:
    """A provider of the given kind pointed at a scripted server (for 'served', through a
    serve-model front end that forwards to the scripted server)."""

    def __init__(self, kind: str, script, monkeypatch):
        for var in ("OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "GEMINI_API_KEY", "OPENAI_API_KEY"):
            monkeypatch.setenv(var, "sk-test")
        self.server = ScriptedOpenAIServer(script).start()
        self.front = None
        url = self.server.base_url
        if kind == "served":
            inner = create_provider(f"openai/up@{url}", retry=False, timeout=INNER_TIMEOUT)
            self.front = ScriptedOpenAIServer(responder=make_responder(inner)).start()
            url, kind = self.front.base_url, "llamacpp"
        self.provider = create_provider(f"{kind}/m@{url}", retry=FAST_RETRY, timeout=TIMEOUT)

    def close(self):
        self.server.close()
        if self.front:
            self.front.close()


@pytest.fixture(params=PREFIXES)
def endpoint(request, monkeypatch):
    made = []

    def make(*script):
        ep = Endpoint(request.param, list(script), monkeypatch)
        made.append(ep)
        return ep

    make.kind = request.param
    yield make
    for ep in made:
        ep.close()


def test_reply_and_usage(endpoint):
    ep = endpoint(reply("hello there", prompt_tokens=7, completion_tokens=3))
    r = ep.provider.complete(MESSAGES, max_tokens=16, seed=5)
    assert r.text == "hello there" and r.input_tokens == 7 and r.output_tokens == 3 and r.latency_s > 0


def test_rate_limit_is_retried_after_the_stated_delay(endpoint):
    if endpoint.kind == "served":
        pytest.skip("the front end answers for the upstream; retry timing is the upstream provider's")
    ep = endpoint(error(429, retry_after=0.3), "ok")
    t = time.monotonic()
    assert ep.provider.complete(MESSAGES).text == "ok"
    assert time.monotonic() - t >= 0.3


def test_server_error_then_success(endpoint):
    ep = endpoint(error(500), error(503), "recovered")
    assert ep.provider.complete(MESSAGES).text == "recovered"


def test_slow_response_times_out_then_retries(endpoint):
    ep = endpoint(delay(SLOW, "too late"), "in time")
    assert ep.provider.complete(MESSAGES).text == "in time"  # the slow first reply was given up


def test_dropped_connection_then_success(endpoint):
    ep = endpoint(drop(), "after the drop")
    assert ep.provider.complete(MESSAGES).text == "after the drop"


def test_malformed_json_then_success(endpoint):
    ep = endpoint(malformed(), "valid again")
    assert ep.provider.complete(MESSAGES).text == "valid again"


def test_persistent_failure_is_a_clear_error(endpoint):
    ep = endpoint(*[error(500)] * 10)
    with pytest.raises(LLMError) as info:
        ep.provider.complete(MESSAGES)
    assert info.value.kind in ("server", "bad_request") and str(info.value)


def test_seed_forwarded(endpoint):
    ep = endpoint("x")
    ep.provider.complete(MESSAGES, seed=42)
    assert ep.server.requests[-1].get("seed") == 42
