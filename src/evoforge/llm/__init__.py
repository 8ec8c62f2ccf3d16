"""Model providers behind one declared base (`ProviderBase`), one retry layer, usage & cost, a bandit ensemble and
an embedded offline model.

Typical use::

    from evoforge.llm import create_provider, default_model_spec
    llm = create_provider(default_model_spec())          # retries included
    reply = llm.complete([{"role": "user", "content": "..."}], max_tokens=512, seed=1)

Everything but the small base types is imported lazily: ``import evoforge.llm`` must not pull
in the OpenAI SDK, llama.cpp or any optional extra.
"""
from __future__ import annotations

import importlib
from typing import Any

from .base import ERROR_KINDS, LLMError, LLMProvider, LLMResponse, ProviderBase

_LAZY = {
    "create_provider": "registry",
    "default_model_spec": "registry",
    "split_spec": "registry",
    "EMBEDDED_NOTICE": "registry",
    "PREFIXES": "registry",
    "RetryingProvider": "retry",
    "RETRY_OPTIONS": "retry",
    "SDKProvider": "sdk_base",
    "OpenAICompatProvider": "openai_compat",
    "LlamaCppProvider": "embedded",
    "embedded_model_path": "embedded",
    "AnthropicProvider": "anthropic_provider",
    "GoogleProvider": "google_provider",
    "Bandit": "bandit",
    "cost_usd": "pricing",
    "price_of": "pricing",
}

__all__ = [
    "EMBEDDED_NOTICE",
    "ERROR_KINDS",
    "PREFIXES",
    "RETRY_OPTIONS",
    "AnthropicProvider",
    "Bandit",
    "GoogleProvider",
    "LLMError",
    "LLMProvider",
    "LLMResponse",
    "LlamaCppProvider",
    "OpenAICompatProvider",
    "ProviderBase",
    "RetryingProvider",
    "SDKProvider",
    "cost_usd",
    "create_provider",
    "default_model_spec",
    "embedded_model_path",
    "price_of",
    "split_spec",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'evoforge.llm' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
