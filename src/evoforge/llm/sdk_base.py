"""What the providers over a vendor's native SDK (Anthropic, Google) share.

Why a shared base: both took the same constructor arguments, kept the same attributes, hid
the key the same way and timed, mapped and checked each call the same way; only building
the request, sending it, reading the reply and naming the SDK's exceptions differ. Those
four steps are the abstract methods here; everything else is written once. The SDK is
imported by the subclass's ``_make_client`` so ``import evoforge.llm`` stays light, and the
SDK's own retries are switched off there because `evoforge.llm.retry` is the one retry layer.
"""
from __future__ import annotations

import abc
import time
from typing import Any, ClassVar

from .base import LLMError, LLMResponse, check_reply
from .pricing import PriceOverrides
from .remote import RemoteProvider
from .request import CompletionRequest


class SDKProvider(RemoteProvider):
    """A provider over a native SDK: ``PREFIX/MODEL[@URL]`` with an API key and a thinking budget.

    ``base_url`` points the SDK at another endpoint speaking the vendor's wire protocol (a
    proxy, a gateway, or the local test servers in `evoforge.testing`). Grammar and JSON
    schema are not supported (accepted and ignored, see `ProviderBase.complete`).
    """

    default_context_length: ClassVar[int] = 128_000

    def __init__(
        self,
        model: str,
        *,
        api_key: str | None,
        name: str | None = None,
        base_url: str | None = None,
        timeout: float = 120.0,
        context_length: int | None = None,
        thinking_budget: int | None = None,
        price_overrides: PriceOverrides | None = None,
    ) -> None:
        self._set_endpoint(model, name=name, base_url=base_url, timeout=timeout,
                           context_length=context_length or self.default_context_length, api_key=api_key,
                           price_overrides=price_overrides)
        self.thinking_budget = thinking_budget
        self._client = self._make_client(api_key, base_url)

    def __repr__(self) -> str:  # never the key
        return f"{type(self).__name__}(name={self.name!r}, api_key={self._shown_key()})"

    def _complete(self, messages: list[dict[str, str]], request: CompletionRequest) -> LLMResponse:
        """One call through the SDK (see `ProviderBase.complete`). The thinking budget set at
        construction is these backends' reasoning control, so ``reasoning_effort`` is ignored."""
        req = self._request(messages, request, request.timeout_within(self.timeout))
        t0 = time.monotonic()
        try:
            raw = self._send(req)
        except Exception as exc:
            err = self._map_error(exc)
            if err is None:  # not an API failure: a bug, let it surface
                raise
            err.model = err.model or self.name
            err.latency_s = time.monotonic() - t0
            raise err from exc
        return check_reply(self._parse(raw, time.monotonic() - t0))

    # -- what each SDK does differently ------------------------------------------------------
    @abc.abstractmethod
    def _make_client(self, api_key: str | None, base_url: str | None) -> Any:
        """The SDK client, with the SDK's own retries off and ``self.timeout`` as its timeout."""

    @abc.abstractmethod
    def _request(self, messages: list[dict[str, str]], request: CompletionRequest, timeout: float) -> dict[str, Any]:
        """The keyword arguments of one SDK call for ``request`` (``timeout`` in seconds, already
        capped by `CompletionRequest.timeout_within`)."""

    @abc.abstractmethod
    def _send(self, request: dict[str, Any]) -> Any:
        """Make the SDK call."""

    @abc.abstractmethod
    def _parse(self, raw: Any, latency: float) -> LLMResponse:
        """The SDK's reply as an `LLMResponse` (empty text is checked afterwards)."""

    @abc.abstractmethod
    def _map_error(self, exc: Exception) -> LLMError | None:
        """The SDK's exception as an `LLMError`, or None when it is not an API failure."""
