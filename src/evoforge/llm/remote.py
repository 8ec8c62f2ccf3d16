"""What every provider over a network API keeps, whatever its client: `RemoteProvider`.

Why shared: the OpenAI-compatible provider and the native-SDK providers (`SDKProvider`) set the
same attributes from the same constructor arguments, keep only *whether* a key was given (so
that no repr or log can show the key) and close their client the same way; each constructor
calls `_set_endpoint` and then builds its own client.
"""
from __future__ import annotations

from typing import Any, ClassVar

from .base import ProviderBase, redact
from .pricing import PriceOverrides


class RemoteProvider(ProviderBase):
    """A `ProviderBase` that talks to ``base_url`` through ``self._client`` (set by the subclass)."""

    prefix: ClassVar[str] = ""  # what ``name`` defaults to: ``PREFIX/MODEL``
    _client: Any

    def _set_endpoint(self, model: str, *, name: str | None, base_url: str | None, timeout: float,
                      context_length: int, api_key: str | None, price_overrides: PriceOverrides | None) -> None:
        """The declared attributes, the pricing overrides and whether a key is set (never the key)."""
        self.model = model
        self.name = name or f"{self.prefix}/{model}"
        self.base_url = base_url
        self.timeout = float(timeout)
        self.context_length = int(context_length)
        self.price_overrides = price_overrides
        self._has_key = bool(api_key)

    def _shown_key(self) -> str:
        """How the key appears in a repr: only whether it is set."""
        return redact(self._has_key and "x")

    def close(self) -> None:
        self._client.close()
