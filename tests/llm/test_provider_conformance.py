"""Every provider — OpenAI-compatible, Anthropic and Google over their own SDKs and wire protocols,
each bare and behind the retry layer, and the embedded llama.cpp model — passes the one
conformance suite, `evoforge.testing.provider_suite`."""
from __future__ import annotations

from evoforge.testing.provider_suite import ProviderConformance


class TestProviders(ProviderConformance):
    pass
