"""`ProviderBase.complete` as a template method: the keywords are declared once, packed into a
`CompletionRequest` and handed to the provider's `_complete`; the retry layer forwards them."""
from __future__ import annotations

import dataclasses
import inspect

import pytest

from evoforge.llm.base import LLMResponse, ProviderBase
from evoforge.llm.request import MIN_TIMEOUT_S, CompletionRequest
from evoforge.llm.retry import RetryingProvider

MSG = [{"role": "user", "content": "hi"}]


class _Hook(ProviderBase):
    """A provider written the new way: only `_complete`."""

    name, model = "fake/hook", "hook"

    def __init__(self):
        self.requests: list[CompletionRequest] = []

    def _complete(self, messages, request):
        self.requests.append(request)
        return LLMResponse(text="ok", model=self.model)


def test_the_keywords_are_the_request_fields_and_the_signature():
    fields = [f.name for f in dataclasses.fields(CompletionRequest)]
    assert tuple(fields) == ProviderBase.COMPLETE_KEYWORDS
    params = inspect.signature(ProviderBase.complete).parameters
    for f in dataclasses.fields(CompletionRequest):  # same names, same defaults, keyword-only
        assert params[f.name].kind is inspect.Parameter.KEYWORD_ONLY and params[f.name].default == f.default


def test_complete_packs_every_keyword_as_given():
    p = _Hook()
    stop, schema = ["END"], {"type": "object"}
    p.complete(MSG, temperature=0.2, max_tokens=9, seed=4, grammar="g", stop=stop, timeout=3.0,
               reasoning_effort="low", json_schema=schema)
    p.complete(MSG)
    given, default = p.requests
    assert given == CompletionRequest(0.2, 9, 4, "g", stop, 3.0, "low", schema)
    assert given.stop is stop and given.json_schema is schema  # not copied, not converted
    assert default == CompletionRequest()
    with pytest.raises(dataclasses.FrozenInstanceError):
        given.seed = 5  # type: ignore[misc]


def test_timeout_within_a_ceiling():
    assert CompletionRequest().timeout_within(120.0) == 120.0
    assert CompletionRequest(timeout=5).timeout_within(120.0) == 5.0
    assert CompletionRequest(timeout=500).timeout_within(120.0) == 120.0
    assert CompletionRequest(timeout=0).timeout_within(120.0) == MIN_TIMEOUT_S


def test_retry_layer_hands_each_attempt_its_seed_and_timeout():
    inner = _Hook()
    p = RetryingProvider(inner, call_budget_s=60)
    p.complete(MSG, seed=1, timeout=5, grammar="g")
    p._complete(MSG, CompletionRequest(max_tokens=3))  # the hook, as the base's complete calls it
    first, second = inner.requests
    assert (first.seed, first.timeout, first.grammar) == (1, 5, "g")
    assert second.max_tokens == 3 and 0 < second.timeout <= 60


def test_a_provider_that_overrides_complete_is_still_a_provider():
    class Old(ProviderBase):  # written before the template method: complete itself, no _complete
        name = "fake/old"

        def complete(self, messages, **kw):
            return LLMResponse(text=",".join(sorted(kw)), model="old")

    assert Old()._complete(MSG, CompletionRequest()).text == ",".join(sorted(ProviderBase.COMPLETE_KEYWORDS))


def test_a_provider_that_defines_neither_stays_abstract():
    class Nothing(ProviderBase):
        pass

    with pytest.raises(TypeError, match="_complete"):
        Nothing()
