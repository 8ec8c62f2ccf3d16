"""JSON schemas reach servers that enforce them as OpenAI's ``response_format``, only when the
provider says the server takes one and no grammar is sent; a server that refuses the field costs
one warning, not the run: the call is repeated without it and later calls go unconstrained."""
from __future__ import annotations

import warnings

import pytest

from evoforge.errors import ModelSpecError
from evoforge.llm import LLMError, create_provider
from evoforge.testing.openai_server import HTTPError, Reply, ScriptedOpenAIServer

MSG = [{"role": "user", "content": "yes or no?"}]
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string", "enum": ["yes", "no"]}},
          "required": ["answer"], "additionalProperties": False}
G = 'root ::= "yes" | "no"'


def test_response_format_sent_when_supported(openai_server):
    openai_server.push('{"answer": "yes"}')
    p = create_provider(f"ollama/m@{openai_server.base_url}", retry=False)
    assert p.complete(MSG, json_schema=SCHEMA).text == '{"answer": "yes"}'
    fmt = openai_server.requests[0]["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["schema"] == SCHEMA and fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["name"]


def test_no_response_format_without_a_schema_or_support(openai_server):
    openai_server.push("a", "b")
    create_provider(f"ollama/m@{openai_server.base_url}", retry=False).complete(MSG)
    create_provider(f"openai/m@{openai_server.base_url}", retry=False).complete(MSG, json_schema=SCHEMA)
    assert not any("response_format" in r for r in openai_server.requests)


def test_a_grammar_wins_over_a_schema(openai_server):
    openai_server.push("yes")
    p = create_provider(f"vllm/m@{openai_server.base_url}", retry=False, supports_grammar=True)
    p.complete(MSG, grammar=G, json_schema=SCHEMA)
    body = openai_server.requests[0]
    assert body["grammar"] == G and "response_format" not in body


@pytest.mark.parametrize("spec,expected", [
    ("ollama/m", True), ("vllm/m@http://127.0.0.1:9/v1", True), ("openai/m@http://127.0.0.1:9/v1", False),
    ("llamacpp/m", False), ("openrouter/m", False),
])
def test_defaults_per_prefix(spec, expected, monkeypatch):
    monkeypatch.setenv("OPENROUTER_API_KEY", "k")
    assert create_provider(spec, retry=False).supports_json_schema is expected
    assert create_provider(spec).supports_json_schema is expected   # through the retry layer


def test_option_via_create_provider(openai_server):
    openai_server.push("{}", "{}")
    on = create_provider(f"openai/m@{openai_server.base_url}", supports_json_schema=True)
    off = create_provider(f"ollama/m@{openai_server.base_url}", supports_json_schema=False)
    assert on.supports_json_schema and not off.supports_json_schema
    on.complete(MSG, json_schema=SCHEMA)   # the retry layer passes the schema through
    off.complete(MSG, json_schema=SCHEMA)
    assert ["response_format" in r for r in openai_server.requests] == [True, False]


def test_option_is_validated_per_prefix():
    with pytest.raises(ModelSpecError, match="supports_json_schema"):
        create_provider("anthropic/claude-x", supports_json_schema=True)


def test_retry_layer_forwards_the_schema_to_providers_that_ignore_it():
    from evoforge.llm.base import LLMResponse, ProviderBase
    from evoforge.llm.retry import RetryingProvider

    class Plain(ProviderBase):  # no schema support: it takes the keyword (the base declares it) and ignores it
        name, context_length = "plain", 1000

        def __init__(self):
            self.seen = []

        def complete(self, messages, *, temperature=0.7, max_tokens=1024, seed=None, grammar=None, stop=None,
                     timeout=None, reasoning_effort=None, json_schema=None):
            self.seen.append(json_schema)
            return LLMResponse(text="ok", model="plain")

    inner = Plain()
    wrapped = RetryingProvider(inner)
    assert wrapped.supports_json_schema is False
    assert wrapped.complete(MSG, json_schema=SCHEMA).text == "ok"
    assert inner.seen == [SCHEMA]


def test_retry_layer_refuses_an_object_that_is_not_a_provider():
    from evoforge.llm.retry import RetryingProvider

    class DuckTyped:  # what the old protocol allowed: the retry layer would have had to probe it
        name, context_length, supports_grammar = "duck", 1000, False

        def complete(self, messages, **kw):
            raise AssertionError("never called")

    with pytest.raises(TypeError, match="ProviderBase"):
        RetryingProvider(DuckTyped())


def test_refused_schema_falls_back_once_and_warns():
    def strict(request):  # a server without structured outputs that rejects the field
        if "response_format" in request:
            return HTTPError(400, "unrecognized request argument: response_format")
        return Reply("no")

    with ScriptedOpenAIServer(responder=strict) as srv:
        p = create_provider(f"vllm/m@{srv.base_url}", retry=False)
        with pytest.warns(UserWarning, match="supports_json_schema"):
            assert p.complete(MSG, json_schema=SCHEMA).text == "no"
        assert not p.supports_json_schema
        with warnings.catch_warnings():
            warnings.simplefilter("error")   # no second refusal, so no second warning
            assert p.complete(MSG, json_schema=SCHEMA).text == "no"
        assert ["response_format" in r for r in srv.requests] == [True, False, False]


def test_other_bad_requests_keep_the_schema_and_raise_the_first_error():
    answers = [HTTPError(400, "context length exceeded"), HTTPError(400, "still too long")]
    with ScriptedOpenAIServer(answers) as srv:
        p = create_provider(f"ollama/m@{srv.base_url}", retry=False)
        with pytest.raises(LLMError, match="context length exceeded"):
            p.complete(MSG, json_schema=SCHEMA)
        assert p.supports_json_schema and len(srv.requests) == 2
        assert ["response_format" in r for r in srv.requests] == [True, False]
