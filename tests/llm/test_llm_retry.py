"""The retry layer over a real HTTP server: backoff, Retry-After, budgets, concurrency, cancel."""
from __future__ import annotations

import random
import threading
import time

import pytest

from evoforge.llm import LLMError, LLMResponse, RetryingProvider, create_provider
from evoforge.llm.base import ProviderBase, parse_retry_after
from evoforge.testing.openai_server import (
    ScriptedOpenAIServer,
    delay,
    empty,
    error,
    reply,
)

MSG = [{"role": "user", "content": "hi"}]


def provider(server: ScriptedOpenAIServer, timeout: float = 10.0, **retry) -> RetryingProvider:
    retry.setdefault("base_delay", 0.01)
    p = create_provider(f"openai/scripted@{server.base_url}", retry=retry, timeout=timeout)
    assert isinstance(p, RetryingProvider)
    return p


def test_retry_after_is_honoured(openai_server):
    openai_server.push(error(429, retry_after=0.3), reply("ok"))
    p = provider(openai_server)
    t0 = time.monotonic()
    r = p.complete(MSG)
    assert r.text == "ok" and r.attempts == 2
    assert 0.3 <= r.backoff_s <= 0.3 + 0.04  # Retry-After plus at most its small jitter
    assert time.monotonic() - t0 >= 0.3  # and it really waited (a lower bound: load cannot break it)


def test_503_with_http_date_retry_after(openai_server):
    openai_server.push(error(503, retry_after="Thu, 01 Jan 1970 00:00:00 GMT"), "ok")  # in the past → 0
    assert provider(openai_server).complete(MSG).attempts == 2


def test_500_then_success(openai_server):
    openai_server.push(error(500), error(502), "fine")
    r = provider(openai_server).complete(MSG)
    assert (r.text, r.attempts) == ("fine", 3)
    assert len(openai_server.requests) == 3


def test_timeout_then_success(openai_server):
    openai_server.push(delay(60.0, "too late"), "in time")
    r = provider(openai_server, timeout=5).complete(MSG)
    assert r.text == "in time" and r.attempts == 2  # the first reply was given up, not awaited


def test_empty_is_retried_truncated_is_not(openai_server):
    openai_server.push(empty(), "second try")
    assert provider(openai_server).complete(MSG, seed=5).text == "second try"
    assert [r["seed"] for r in openai_server.requests] == [5, 6]  # reseeded after an empty reply
    openai_server.push(empty(finish_reason="length"), "never asked")
    with pytest.raises(LLMError) as e:
        provider(openai_server).complete(MSG)
    assert e.value.kind == "truncated" and e.value.attempts == 1


def test_persistent_500_gives_up_after_max_attempts(openai_server):
    openai_server.push(*[error(500)] * 10)
    with pytest.raises(LLMError) as e:
        provider(openai_server, max_attempts=4, base_delay=0.02, call_budget_s=60).complete(MSG)
    assert e.value.kind == "server" and e.value.attempts == 4
    assert len(openai_server.requests) == 4
    assert e.value.backoff_s <= 0.02 + 0.04 + 0.08  # three jittered backoffs, each under its cap


def test_call_budget_bounds_total_time(openai_server):
    openai_server.responder = lambda body: error(500)
    p = provider(openai_server, max_attempts=1000, base_delay=0.1, max_delay=0.1, call_budget_s=0.8)
    with pytest.raises(LLMError) as e:
        p.complete(MSG)
    # the budget, not the attempt count, ended it; no backoff was started that would overrun it
    assert e.value.kind in ("server", "timeout") and 1 <= e.value.attempts < 1000
    assert e.value.backoff_s < 0.8


def test_budget_shortens_inner_timeout(openai_server):
    openai_server.push(delay(5.0))
    with pytest.raises(LLMError) as e:  # with the 60 s timeout it would have got the delayed reply
        provider(openai_server, timeout=60, call_budget_s=0.5).complete(MSG)
    assert e.value.kind == "timeout" and len(openai_server.requests) == 1


def test_retry_after_beyond_budget_fails_fast(openai_server):
    openai_server.push(error(429, retry_after=30))
    with pytest.raises(LLMError) as e:
        provider(openai_server, call_budget_s=2).complete(MSG)
    assert e.value.kind == "rate_limit" and e.value.retry_after == 30
    assert e.value.backoff_s == 0 and e.value.attempts == 1  # the 30 s wait was never started


@pytest.mark.parametrize("limit", [2, 6])
def test_concurrency_limit(openai_server, limit):
    # Each request is held at the server until `together` of them are in flight at once: the
    # overlap is forced, not hoped for from sleeps, so a loaded machine cannot change the verdict.
    together = 2 if limit == 2 else 3
    barrier = threading.Barrier(together, timeout=120)

    def respond(body):
        barrier.wait()
        return "ok"

    openai_server.responder = respond
    p = provider(openai_server, max_concurrency=limit, call_budget_s=600, timeout=600)
    results: list[str] = []
    threads = [threading.Thread(target=lambda: results.append(p.complete(MSG).text)) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["ok"] * 6
    if limit == 2:  # two were in flight together, and the limit never let a third in
        assert openai_server.max_concurrent == 2
    else:  # without a tight limit the server really sees more overlap
        assert openai_server.max_concurrent >= 3


@pytest.mark.parametrize("how", ["close", "event"])
def test_cancellation_aborts_a_long_backoff(openai_server, how):
    openai_server.push(error(503, retry_after=3600))
    event = threading.Event()
    p = provider(openai_server, call_budget_s=7200)
    outcome: list[BaseException] = []

    def call() -> None:
        try:
            p.complete(MSG, cancel=event if how == "event" else None)
        except LLMError as exc:
            outcome.append(exc)

    t = threading.Thread(target=call)
    t.start()
    while not openai_server.requests:  # answered with a one-hour Retry-After: the backoff begins
        time.sleep(0.01)
    p.close() if how == "close" else event.set()
    t.join(timeout=600)  # a cancellable wait ends within a tick; an uncancellable one in an hour
    assert not t.is_alive(), "cancelling did not end the hour-long backoff"
    assert outcome and outcome[0].kind == "cancelled" and not outcome[0].retryable
    assert len(openai_server.requests) == 1


def test_closed_provider_refuses_new_calls(openai_server):
    p = provider(openai_server)
    p.close()
    with pytest.raises(LLMError) as e:
        p.complete(MSG)
    assert e.value.kind == "cancelled"
    assert openai_server.requests == []


class _Flaky(ProviderBase):
    """A minimal in-process provider: the retry layer works with any ProviderBase."""

    name, context_length, supports_grammar = "fake/flaky", 1000, False

    def __init__(self, errors: list[LLMError]):
        self.errors = errors
        self.calls = 0

    def complete(self, messages, *, temperature=0.7, max_tokens=1024, seed=None, grammar=None, stop=None,
                 timeout=None, reasoning_effort=None, json_schema=None):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return LLMResponse(text="done", model="flaky")


def test_wraps_any_provider_and_never_stacks():
    inner = _Flaky([LLMError("connection", "reset"), LLMError("bad_request", "context too long")])
    p = RetryingProvider(RetryingProvider(inner, base_delay=0.001), base_delay=0.001)
    assert p.inner is inner and p.name == "fake/flaky" and p.context_length == 1000
    with pytest.raises(LLMError) as e:
        p.complete(MSG)
    assert e.value.kind == "bad_request" and inner.calls == 2
    assert p.complete(MSG).text == "done"


def test_backoff_is_full_jitter_and_capped():
    p = RetryingProvider(_Flaky([]), base_delay=0.5, max_delay=4.0, rng=random.Random(0))
    delays = [p.backoff(k, None) for k in range(1, 10) for _ in range(50)]
    assert min(delays) >= 0 and max(delays) <= 4.0
    assert max(p.backoff(1, None) for _ in range(200)) <= 0.5
    assert p.backoff(3, 2.5) >= 2.5


def test_parse_retry_after_forms():
    assert parse_retry_after({"retry-after": "2"}) == 2.0
    assert parse_retry_after({"retry-after-ms": "150"}) == 0.15
    assert parse_retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=1445412470.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after(None) is None


class _Recording(ProviderBase):
    """Records the keywords each call receives."""

    name, model = "fake/recording", "recording"

    def __init__(self):
        self.calls: list[dict] = []

    def complete(self, messages, **kwargs):
        self.calls.append(kwargs)
        return LLMResponse(text="ok", model=self.model)


def test_every_keyword_is_forwarded_and_timeout_capped_by_the_budget():
    inner = _Recording()
    p = RetryingProvider(inner, call_budget_s=60)
    p.complete(MSG, temperature=0.1, max_tokens=7, seed=2, grammar="g", stop=["S"], timeout=5,
               reasoning_effort="high", json_schema={"type": "object"})
    p.complete(MSG)
    first, second = inner.calls
    assert set(first) == set(ProviderBase.COMPLETE_KEYWORDS) == set(second)
    assert (first["temperature"], first["max_tokens"], first["seed"], first["grammar"], first["stop"]) == (
        0.1, 7, 2, "g", ["S"])
    assert first["reasoning_effort"] == "high" and first["json_schema"] == {"type": "object"}
    assert first["timeout"] == 5  # the caller's cap, below what is left of the 60 s budget
    assert 0 < second["timeout"] <= 60 and second["reasoning_effort"] is None and second["json_schema"] is None
    assert p.max_concurrency == 4 and inner.max_concurrency == 1  # the retry layer owns the limit
