"""The OpenAI-compatible provider against a real local HTTP server (no SDK mocks)."""
from __future__ import annotations

import logging

import pytest

from evoforge.llm import LLMError, LLMProvider, create_provider
from evoforge.testing.openai_server import (
    ScriptedOpenAIServer,
    delay,
    empty,
    error,
    malformed,
    reply,
)

MSG = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "say hi"}]


def bare(server: ScriptedOpenAIServer, model: str = "scripted-model", prefix: str = "openai", **kw):
    return create_provider(f"{prefix}/{model}@{server.base_url}", retry=False, **kw)


def test_success_and_usage(openai_server):
    openai_server.push(reply("hello there", prompt_tokens=11, completion_tokens=7, reasoning_tokens=3))
    p = bare(openai_server)
    assert isinstance(p, LLMProvider)
    r = p.complete(MSG, max_tokens=50)
    assert r.text == "hello there"
    assert (r.input_tokens, r.output_tokens, r.reasoning_tokens) == (11, 7, 3)
    assert r.finish_reason == "stop" and r.latency_s > 0 and r.attempts == 1
    body = openai_server.requests[0]
    assert body["model"] == "scripted-model" and body["messages"] == MSG and body["max_tokens"] == 50


def test_cost_computed_for_known_model(openai_server):
    openai_server.push(reply("x", prompt_tokens=1_000_000, completion_tokens=1_000_000))
    r = bare(openai_server, "gpt-4o-mini").complete(MSG)
    assert r.cost_usd == pytest.approx(0.15 + 0.60)


def test_seed_and_temperature_forwarded(openai_server):
    openai_server.push("a", "b")
    p = bare(openai_server)
    p.complete(MSG, temperature=0.3, seed=7, stop=["END"])
    p.complete(MSG, temperature=None)
    first, second = openai_server.requests
    assert first["seed"] == 7 and first["temperature"] == 0.3 and first["stop"] == ["END"]
    assert "temperature" not in second and "seed" not in second


def test_reasoning_model_omits_temperature(openai_server):
    openai_server.push(reply("ok", reasoning_tokens=40, completion_tokens=45))
    p = bare(openai_server, "o3-mini", reasoning_effort="low")
    r = p.complete(MSG, temperature=0.9, max_tokens=300, seed=1)
    body = openai_server.requests[0]
    assert "temperature" not in body and "max_tokens" not in body
    assert body["max_completion_tokens"] == 300 and body["reasoning_effort"] == "low" and body["seed"] == 1
    assert r.reasoning_tokens == 40 and r.output_tokens == 45


def test_grammar_forwarded_only_where_supported(openai_server):
    g = 'root ::= "yes" | "no"'
    openai_server.push("yes", "no")
    llamacpp = bare(openai_server, "any", prefix="llamacpp")
    assert llamacpp.supports_grammar
    llamacpp.complete(MSG, grammar=g)
    plain = bare(openai_server)
    assert not plain.supports_grammar
    plain.complete(MSG, grammar=g)
    assert openai_server.requests[0]["grammar"] == g
    assert "grammar" not in openai_server.requests[1]


def test_reasoning_content_and_think_tags(openai_server):
    openai_server.push(reply("answer", reasoning_content="because"), reply("<think>hmm\n</think>\nfinal"))
    p = bare(openai_server)
    r1, r2 = p.complete(MSG), p.complete(MSG)
    assert (r1.text, r1.reasoning) == ("answer", "because")
    assert (r2.text, r2.reasoning) == ("final", "hmm")


def test_empty_and_truncated_and_partial(openai_server):
    openai_server.push(empty(), empty(finish_reason="length", completion_tokens=64), reply("par", finish_reason="length"))
    p = bare(openai_server)
    with pytest.raises(LLMError) as e1:
        p.complete(MSG)
    assert e1.value.kind == "empty" and e1.value.retryable
    with pytest.raises(LLMError) as e2:
        p.complete(MSG)
    assert e2.value.kind == "truncated" and not e2.value.retryable and e2.value.output_tokens == 64
    r = p.complete(MSG)  # partial text is returned; the caller decides
    assert r.text == "par" and r.finish_reason == "length"


@pytest.mark.parametrize("body", ['{"id": "x", "choices": [ {"message": ', '{"foo": 1}', "not json at all"])
def test_malformed_body(openai_server, body):
    openai_server.push(malformed(body))
    with pytest.raises(LLMError) as e:
        bare(openai_server).complete(MSG)
    assert e.value.kind == "server" and e.value.retryable and "malformed" in e.value.message


@pytest.mark.parametrize("status,kind,retryable", [
    (400, "bad_request", False), (401, "auth", False), (403, "auth", False), (404, "bad_request", False),
    (429, "rate_limit", True), (500, "server", True), (503, "server", True), (529, "server", True),
])
def test_status_mapping(openai_server, status, kind, retryable):
    openai_server.push(error(status, retry_after=1.5 if status in (429, 503) else None))
    with pytest.raises(LLMError) as e:
        bare(openai_server).complete(MSG)
    assert (e.value.kind, e.value.retryable, e.value.status) == (kind, retryable, status)
    if status in (429, 503):
        assert e.value.retry_after == pytest.approx(1.5)


def test_timeout_and_connection_errors(openai_server):
    openai_server.push(delay(2.0, "late"))
    with pytest.raises(LLMError) as e:
        bare(openai_server, timeout=0.2).complete(MSG)
    assert e.value.kind == "timeout" and e.value.retryable
    with ScriptedOpenAIServer() as gone:
        url = gone.base_url
    with pytest.raises(LLMError) as e2:
        create_provider(f"openai/scripted@{url}", retry=False).complete(MSG)
    assert e2.value.kind == "connection"


def test_api_key_sent_but_never_shown(openai_server, monkeypatch, caplog):
    secret = "sk-test-SECRET-0123456789"
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    openai_server.api_key = secret
    openai_server.push(error(500), "ok")
    caplog.set_level(logging.DEBUG)
    p = create_provider(f"openai/gpt-4o@{openai_server.base_url}", retry={"base_delay": 0.01})
    assert p.complete(MSG).text == "ok"
    assert openai_server.headers[0]["authorization"] == f"Bearer {secret}"
    assert secret not in repr(p) and secret not in repr(p.inner) and secret not in caplog.text


def test_wrong_key_is_auth_error_not_retried(openai_server, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-wrong")
    openai_server.api_key = "sk-right"
    p = create_provider(f"openai/gpt-4o@{openai_server.base_url}", retry={"base_delay": 0.01})
    with pytest.raises(LLMError) as e:
        p.complete(MSG)
    assert e.value.kind == "auth" and e.value.attempts == 1
    assert len(openai_server.requests) == 1
    assert "sk-wrong" not in str(e.value)


def test_responder_mode_generates_replies_from_prompt():
    def echo(body):
        return "ECHO: " + body["messages"][-1]["content"]

    with ScriptedOpenAIServer(responder=echo) as srv:
        p = create_provider(f"ollama/qwen@{srv.base_url}", retry=False)
        assert p.complete(MSG).text == "ECHO: say hi"
        assert p.complete(MSG).cost_usd == 0.0  # self-hosted: free, no unknown-price warning
