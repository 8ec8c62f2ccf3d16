"""Model-string parsing, keys from env/.env, option checking, and the SDK-backed providers'
request construction (their SDKs are optional; the conformance suite runs them over their wires)."""
from __future__ import annotations

import inspect
import sys
from types import SimpleNamespace

import pytest

from evoforge.errors import MissingExtraError, ModelSpecError, UserError
from evoforge.llm import (
    EMBEDDED_NOTICE,
    LLMProvider,
    RetryingProvider,
    create_provider,
    default_model_spec,
    registry,
)
from evoforge.llm.anthropic_provider import (
    build_anthropic_request,
    parse_anthropic_message,
)
from evoforge.llm.google_provider import build_google_request, parse_google_response
from evoforge.llm.registry import read_dotenv, split_spec
from evoforge.llm.retry import RETRY_OPTIONS


@pytest.mark.parametrize("spec,expected", [
    ("openai/gpt-4o", ("openai", "gpt-4o", None)),
    ("openai/gpt-4o@http://localhost:8000/v1", ("openai", "gpt-4o", "http://localhost:8000/v1")),
    ("ollama/qwen2.5-coder:7b", ("ollama", "qwen2.5-coder:7b", None)),
    ("vllm/Qwen/Qwen2.5-7B@https://gpu.example:8000/v1", ("vllm", "Qwen/Qwen2.5-7B", "https://gpu.example:8000/v1")),
    ("openrouter/anthropic/claude-3.5-sonnet", ("openrouter", "anthropic/claude-3.5-sonnet", None)),
    ("local//models/x.gguf", ("local", "/models/x.gguf", None)),
    ("  embedded ", ("embedded", "", None)),
    ("OpenAI/gpt-4o", ("openai", "gpt-4o", None)),
])
def test_split_spec(spec, expected):
    assert split_spec(spec) == expected


@pytest.mark.parametrize("spec,hint", [
    ("openia/gpt-4o", "Did you mean 'openai/gpt-4o'?"),
    ("antropic/claude-sonnet-4-5", "Did you mean 'anthropic/claude-sonnet-4-5'?"),
    ("gpt-4o", "Did you mean 'openai/gpt-4o'?"),
    ("claude-sonnet-4-5", "Did you mean 'anthropic/claude-sonnet-4-5'?"),
    ("model.gguf", "Did you mean 'local/model.gguf'?"),
    ("embeded", "Did you mean 'embedded'?"),
    ("zzz/foo", "Valid prefixes"),
    ("openai/", "names no model"),
])
def test_bad_specs_explain_and_suggest(spec, hint):
    with pytest.raises(ModelSpecError) as e:
        create_provider(spec)
    assert hint in str(e.value)


def test_unknown_option_is_an_error():
    with pytest.raises(ModelSpecError, match="temprature"):
        create_provider("ollama/llama3", temprature=0.1)
    with pytest.raises(ModelSpecError, match="max_retries"):
        create_provider("ollama/llama3", retry={"max_retries": 3})
    with pytest.raises(ModelSpecError, match="no @URL"):
        create_provider("local/x.gguf@http://h:1/v1")


def test_run_level_options_accepted_by_every_prefix():
    # An ensemble config applies these to every model; only models that use them do.
    opts = {"reasoning_effort": "low", "price_overrides": {"llama3": (1.0, 2.0)}}
    p = create_provider("ollama/llama3", retry=False, **opts)
    assert p.reasoning_effort == "low" and p.price_overrides == opts["price_overrides"]
    with pytest.raises(ModelSpecError, match="valid: .*reasoning_effort"):
        create_provider("ollama/llama3", reasoning_efort="low")


def test_missing_key_names_the_variable():
    with pytest.raises(UserError, match="OPENAI_API_KEY"):
        create_provider("openai/gpt-4o")
    with pytest.raises(UserError, match="GEMINI_API_KEY or GOOGLE_API_KEY"):
        create_provider("gemini/gemini-2.5-flash")


def test_key_from_dotenv_and_env_wins(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("# keys\nexport OPENAI_API_KEY='sk-from-dotenv'\nDEEPSEEK_API_KEY=sk-ds # c\n")
    p = create_provider("openai/gpt-4o", retry=False)
    assert p._client.api_key == "sk-from-dotenv" and "sk-from-dotenv" not in repr(p)
    assert create_provider("deepseek/deepseek-chat", retry=False)._client.api_key == "sk-ds"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    assert create_provider("openai/gpt-4o", retry=False)._client.api_key == "sk-from-env"
    monkeypatch.setenv("MY_KEY", "sk-mine")
    assert create_provider("openai/gpt-4o", retry=False, api_key_env="MY_KEY")._client.api_key == "sk-mine"


def test_read_dotenv(tmp_path):
    f = tmp_path / "x.env"
    f.write_text('A=1\n  B = "two words" \nC=\'q\'\n\n#D=4\nbad line\nE=x # note\nF=a#b\n')
    assert read_dotenv(f) == {"A": "1", "B": "two words", "C": "q", "E": "x", "F": "a#b"}
    assert read_dotenv(tmp_path / "missing") == {}


def test_base_urls_and_defaults(monkeypatch):
    assert str(create_provider("ollama/llama3", retry=False)._client.base_url).startswith("http://127.0.0.1:11434/v1")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9999/v1")
    p = create_provider("openai/my-local-model", retry=False)  # custom endpoint: no key needed
    assert str(p._client.base_url).startswith("http://127.0.0.1:9999/v1")
    with pytest.raises(ModelSpecError, match="vllm/ needs a server URL"):
        create_provider("vllm/some-model")
    llamacpp = create_provider("llamacpp/any", retry=False)
    assert llamacpp.supports_grammar and not create_provider("ollama/x", retry=False).supports_grammar


def test_create_provider_wraps_in_retry_by_default():
    p = create_provider("ollama/llama3", retry={"max_attempts": 2, "max_concurrency": 3})
    assert isinstance(p, RetryingProvider) and isinstance(p, LLMProvider)
    assert p.max_attempts == 2 and p.max_concurrency == 3 and p.name == "ollama/llama3"
    assert not isinstance(create_provider("ollama/llama3", retry=False), RetryingProvider)


def test_default_model_spec(tmp_path, monkeypatch):
    assert default_model_spec() == "embedded"
    assert "weak" in EMBEDDED_NOTICE and "EVOFORGE_MODEL" in EMBEDDED_NOTICE
    (tmp_path / ".env").write_text("EVOFORGE_MODEL=ollama/qwen\n")
    assert default_model_spec() == "ollama/qwen"
    monkeypatch.setenv("EVOFORGE_MODEL", "openai/gpt-4.1-mini")
    assert default_model_spec() == "openai/gpt-4.1-mini"


def test_anthropic_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "anthropic", None)  # as if not installed: importing it fails
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant")
    with pytest.raises(MissingExtraError) as e:
        create_provider("anthropic/claude-sonnet-4-5")
    assert e.value.extra == "anthropic" and "evoforge[anthropic]" in str(e.value)


def test_google_missing_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "google.genai", None)
    monkeypatch.setenv("GEMINI_API_KEY", "g-key")
    with pytest.raises(MissingExtraError) as e:
        create_provider("google/gemini-2.5-pro")
    assert e.value.extra == "google"


def test_a_prefix_without_a_provider_is_an_error_not_llamacpp(monkeypatch):
    """The parser and the builder each refuse an unknown prefix; neither falls back to llama.cpp
    (a prefix added to PREFIXES without a branch in the builder used to become a GGUF path)."""
    monkeypatch.setattr(registry, "PREFIXES", (*registry.PREFIXES, "newvendor"))
    with pytest.raises(ModelSpecError) as e:
        create_provider("newvendor/some-model")
    message = str(e.value)
    assert "unknown model provider 'newvendor'" in message and "Valid prefixes" in message
    assert all(f"{p}/" in message for p in ("openai", "anthropic", "google", "ollama", "local"))
    assert "GGUF" not in message and "not found" not in message


def test_native_sdk_prefixes_take_a_url_local_ones_do_not(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("GEMINI_API_KEY", "k")
    for spec in ("anthropic/claude-x@http://127.0.0.1:9", "google/gemini-x@http://127.0.0.1:9"):
        pytest.importorskip(spec.split("/")[0] if spec.startswith("anthropic") else "google.genai")
        assert create_provider(spec, retry=False).base_url == "http://127.0.0.1:9"
    for spec in ("local/x.gguf@http://127.0.0.1:9", "embedded@http://127.0.0.1:9"):
        with pytest.raises(ModelSpecError):
            create_provider(spec)


def test_retry_options_are_the_retry_layers_parameters():
    assert set(RETRY_OPTIONS) == set(inspect.signature(RetryingProvider).parameters) - {"inner"}


def test_anthropic_request_and_parse():
    msgs = [{"role": "system", "content": "S1"}, {"role": "user", "content": "a"},
            {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}, {"role": "user", "content": "d"}]
    req = build_anthropic_request("claude-sonnet-4-5", msgs, temperature=0.2, max_tokens=100, stop=["X"])
    assert req["system"] == "S1" and req["temperature"] == 0.2 and req["stop_sequences"] == ["X"]
    assert [t["role"] for t in req["messages"]] == ["user", "assistant", "user"]
    assert req["messages"][0]["content"] == "a\n\nb"
    think = build_anthropic_request("claude-sonnet-4-5", msgs, temperature=0.2, max_tokens=100, thinking_budget=2000)
    assert "temperature" not in think and think["max_tokens"] == 2100
    assert think["thinking"] == {"type": "enabled", "budget_tokens": 2000}
    msg = SimpleNamespace(
        content=[SimpleNamespace(type="thinking", thinking="plan"), SimpleNamespace(type="text", text="out")],
        usage=SimpleNamespace(input_tokens=1000, output_tokens=500, cache_read_input_tokens=0,
                              output_tokens_details=SimpleNamespace(thinking_tokens=300)),
        stop_reason="max_tokens")
    r = parse_anthropic_message(msg, "claude-sonnet-4-5", 0.1)
    assert (r.text, r.reasoning, r.finish_reason) == ("out", "plan", "length")
    assert (r.output_tokens, r.reasoning_tokens) == (500, 300)
    assert r.cost_usd == pytest.approx((1000 * 3 + 500 * 15) / 1e6)


def test_google_request_and_parse():
    msgs = [{"role": "system", "content": "S"}, {"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    req = build_google_request("gemini-2.5-flash", msgs, temperature=0.5, max_tokens=64, seed=3, timeout=2.5)
    cfg = req["config"]
    assert req["contents"] == [{"role": "user", "parts": [{"text": "q"}]}, {"role": "model", "parts": [{"text": "a"}]}]
    assert cfg["system_instruction"] == "S" and cfg["seed"] == 3 and cfg["max_output_tokens"] == 64
    assert cfg["thinking_config"] == {"include_thoughts": True} and cfg["http_options"] == {"timeout": 2500}
    assert "thinking_config" not in build_google_request("gemini-2.0-flash", msgs)["config"]
    resp = SimpleNamespace(
        candidates=[SimpleNamespace(content=SimpleNamespace(parts=[SimpleNamespace(text="why", thought=True),
                                                                   SimpleNamespace(text="ans", thought=None)]),
                                    finish_reason=SimpleNamespace(name="STOP"))],
        usage_metadata=SimpleNamespace(prompt_token_count=10, candidates_token_count=5, thoughts_token_count=20))
    r = parse_google_response(resp, "gemini-2.5-flash", 0.1)
    assert (r.text, r.reasoning, r.finish_reason) == ("ans", "why", "stop")
    assert (r.output_tokens, r.reasoning_tokens) == (25, 20)
    assert r.cost_usd == pytest.approx((10 * 0.30 + 25 * 2.50) / 1e6)
