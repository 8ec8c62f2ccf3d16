"""Grammars reach each kind of server in the field it reads, and a server that refuses the
field costs one warning, not the run: the call is repeated without a grammar and later edits
go unconstrained."""
from __future__ import annotations

import pytest

from evoforge.errors import ModelSpecError
from evoforge.llm import LLMError, create_provider
from evoforge.testing.openai_server import HTTPError, Reply, ScriptedOpenAIServer

MSG = [{"role": "user", "content": "yes or no?"}]
G = 'root ::= "yes" | "no"'


@pytest.mark.parametrize("field,expected", [
    ("grammar", {"grammar": G}),
    ("guided_grammar", {"guided_grammar": G}),
    ("structured_outputs", {"structured_outputs": {"grammar": G}}),
])
def test_grammar_sent_in_the_configured_field(openai_server, field, expected):
    openai_server.push("yes")
    p = create_provider(f"vllm/m@{openai_server.base_url}", retry=False, supports_grammar=True, grammar_field=field)
    assert p.complete(MSG, grammar=G).text == "yes"
    body = openai_server.requests[0]
    for key, value in expected.items():
        assert body[key] == value
    assert not ({"grammar", "guided_grammar", "structured_outputs"} - set(expected)) & set(body)


def test_unknown_grammar_field_is_a_clear_error(openai_server):
    with pytest.raises(ModelSpecError, match="grammar_field 'gbnf' is not one of grammar, guided_grammar"):
        create_provider(f"vllm/m@{openai_server.base_url}", retry=False, supports_grammar=True, grammar_field="gbnf")


def test_refused_grammar_falls_back_once_and_warns():
    def strict(request):  # a server that rejects any body carrying a grammar, like one without the backend
        if "grammar" in request:
            return HTTPError(400, "unrecognized request argument: grammar")
        return Reply("no")

    with ScriptedOpenAIServer(responder=strict) as srv:
        p = create_provider(f"openai/m@{srv.base_url}", retry=False, supports_grammar=True)
        with pytest.warns(UserWarning, match="refused the 'grammar' grammar field"):
            assert p.complete(MSG, grammar=G).text == "no"
        assert not p.supports_grammar
        assert p.complete(MSG, grammar=G).text == "no"   # no second refusal: the grammar is no longer sent
        assert ["grammar" in r for r in srv.requests] == [True, False, False]


def test_other_bad_requests_keep_the_grammar_and_raise_the_first_error():
    with ScriptedOpenAIServer(responder=lambda r: HTTPError(400, "context length exceeded")) as srv:
        p = create_provider(f"llamacpp/m@{srv.base_url}", retry=False)
        with pytest.raises(LLMError, match="context length exceeded"):
            p.complete(MSG, grammar=G)
        assert p.supports_grammar and len(srv.requests) == 2
