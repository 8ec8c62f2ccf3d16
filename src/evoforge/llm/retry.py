"""The single retry layer, wrapped around any provider.

Why here and only here: SDK-level retries are invisible (they ignore our budgets, cannot be
cancelled and multiply with ours), so providers run with ``max_retries=0`` and this wrapper
owns every policy decision:

* exponential backoff with full jitter (``uniform(0, min(max_delay, base·2^k))``), so many
  workers hitting a rate limit do not retry in lock-step;
* ``Retry-After`` from 429/503 is honoured (we wait at least that long);
* a wall-clock budget per call across all attempts: a sleep that would overrun it is not
  started, and the inner call's timeout is shortened to what is left;
* a per-provider semaphore bounding concurrent requests (held only while a request is in
  flight, never while sleeping);
* cancellation: ``close()`` or a ``threading.Event`` aborts waits within ~50 ms, so shutting
  down a run never hangs behind a 30 s backoff.
Non-retryable errors (auth, bad_request, truncated, unsupported) are raised at once. After an empty reply
a seeded call is retried with ``seed + 1`` (still reproducible), since a deterministic backend
would otherwise return the same empty reply every time.

It wraps any `ProviderBase` and forwards every keyword of `ProviderBase.complete` as is: the
base declares them all, so nothing here inspects the inner provider's signature.
"""
from __future__ import annotations

import dataclasses
import logging
import random
import threading
import time
from collections.abc import Mapping
from typing import Any, Generic, TypeVar, overload

from .base import LLMError, LLMResponse, ProviderBase
from .request import CompletionRequest

log = logging.getLogger(__name__)

T = TypeVar("T")

_TICK = 0.05  # granularity of cancellable waits

# The settings a model config may give the retry layer (``create_provider(retry={...})``).
RETRY_OPTIONS = ("max_attempts", "base_delay", "max_delay", "call_budget_s", "max_concurrency", "cancel", "rng")


class _FromInner(Generic[T]):
    """A declared attribute of `RetryingProvider` that is its inner provider's, read at each
    access (a read-only property, written once for all six)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.attribute = name

    @overload
    def __get__(self, obj: None, objtype: type | None = None) -> _FromInner[T]: ...
    @overload
    def __get__(self, obj: RetryingProvider, objtype: type | None = None) -> T: ...

    def __get__(self, obj: RetryingProvider | None, objtype: type | None = None) -> T | _FromInner[T]:
        if obj is None:
            return self
        return getattr(obj.inner, self.attribute)

    def __set__(self, obj: RetryingProvider, value: T) -> None:
        raise AttributeError(f"{self.attribute!r} of a RetryingProvider is its inner provider's; set it there")


class RetryingProvider(ProviderBase):
    """A `ProviderBase` that retries ``inner`` (see the module docstring for the policy).

    The declared attributes are ``inner``'s, except ``max_concurrency``: the retry layer owns
    the concurrency limit, so it reports its own."""

    inner: ProviderBase

    def __init__(
        self,
        inner: ProviderBase,
        max_attempts: int = 5,
        base_delay: float = 0.5,
        max_delay: float = 30.0,
        call_budget_s: float = 120.0,
        max_concurrency: int = 4,
        *,
        cancel: threading.Event | None = None,
        rng: random.Random | None = None,
    ) -> None:
        if isinstance(inner, RetryingProvider):  # never stack two retry layers
            inner = inner.inner
        if not isinstance(inner, ProviderBase):
            raise TypeError(f"RetryingProvider wraps a provider: {type(inner).__name__} does not subclass "
                            "evoforge.llm.ProviderBase (which declares every keyword the retry layer forwards)")
        if max_attempts < 1 or max_concurrency < 1:
            raise ValueError("max_attempts and max_concurrency must be >= 1")
        self.inner = inner
        self.max_attempts = int(max_attempts)
        self.base_delay = float(base_delay)
        self.max_delay = float(max_delay)
        self.call_budget_s = float(call_budget_s)
        self.max_concurrency = int(max_concurrency)
        self._semaphore = threading.BoundedSemaphore(self.max_concurrency)
        self._closed = cancel if cancel is not None else threading.Event()
        self._rng = rng or random.Random()
        self._rng_lock = threading.Lock()

    # Delegated declared attributes (read through: a provider may change them, e.g. after a
    # server refused a grammar) ---------------------------------------------------------------
    name = _FromInner[str]()  # type: ignore[assignment]
    model = _FromInner[str]()  # type: ignore[assignment]
    context_length = _FromInner[int]()  # type: ignore[assignment]
    supports_grammar = _FromInner[bool]()  # type: ignore[assignment]
    supports_json_schema = _FromInner[bool]()  # type: ignore[assignment]
    supports_embeddings = _FromInner[bool]()  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RetryingProvider({self.inner!r}, max_attempts={self.max_attempts})"

    def __getattr__(self, item: str) -> Any:  # e.g. .pricing_model, .base_url of the inner provider
        if item == "inner":
            raise AttributeError(item)
        return getattr(self.inner, item)

    def close(self) -> None:
        """Abort every pending and future call (sleeping retries wake up at once), then close
        the inner provider (every provider's `close` is idempotent)."""
        self._closed.set()
        try:
            self.inner.close()
        except Exception:
            log.debug("closing %s failed", self.name, exc_info=True)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """The inner provider's embeddings, passed through without retries (as before the base
        declared `embed`: an embedding call is cheap to lose and the caller decides)."""
        return self.inner.embed(texts)

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    # The call -----------------------------------------------------------------------------
    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Delay before retry number ``attempt`` (1-based): full jitter, floored by Retry-After."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        with self._rng_lock:
            delay = self._rng.uniform(0.0, cap)
            if retry_after is not None:
                delay = retry_after + self._rng.uniform(0.0, min(self.base_delay, 0.1 * retry_after + 0.01))
        return delay

    def complete(
        self,
        messages: list[dict[str, str]],
        *,
        temperature: float | None = 0.7,
        max_tokens: int = 1024,
        seed: int | None = None,
        grammar: str | None = None,
        stop: list[str] | None = None,
        timeout: float | None = None,
        reasoning_effort: str | None = None,
        json_schema: Mapping[str, Any] | None = None,
        cancel: threading.Event | None = None,
    ) -> LLMResponse:
        """Call the inner provider until it succeeds, a non-retryable error occurs, attempts
        or the time budget run out, or the call is cancelled (``LLMError`` kind "cancelled").

        Every keyword is forwarded to ``inner.complete``; ``timeout`` caps each attempt and the
        inner call gets the smaller of it and what is left of the call budget. ``cancel`` is
        this layer's own: an event that aborts the call and its waits."""
        return self._retry(messages, CompletionRequest(
            temperature=temperature, max_tokens=max_tokens, seed=seed, grammar=grammar, stop=stop,
            timeout=timeout, reasoning_effort=reasoning_effort, json_schema=json_schema), cancel)

    def _complete(self, messages: list[dict[str, str]], request: CompletionRequest) -> LLMResponse:
        return self._retry(messages, request, None)

    def _retry(self, messages: list[dict[str, str]], request: CompletionRequest,
               cancel: threading.Event | None) -> LLMResponse:
        """The retry loop of `complete`. Each attempt is ``request`` with its own seed and
        timeout, sent through the inner provider's public `complete` (so a provider that
        overrides `complete` itself is called the way it expects)."""
        deadline = time.monotonic() + self.call_budget_s
        last: LLMError | None = None
        call_seed = request.seed
        waited = 0.0  # backoff chosen so far: reported on the reply or the error
        for attempt in range(1, self.max_attempts + 1):
            self._check_cancel(cancel, last)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self._acquire(deadline, cancel, last)
            try:
                attempt_request = dataclasses.replace(request, seed=call_seed, timeout=(
                    remaining if request.timeout is None else min(float(request.timeout), remaining)))
                response = self.inner.complete(messages, **attempt_request.keywords())
            except LLMError as err:
                err.attempts = attempt
                err.backoff_s = waited
                last = err
            else:
                response.attempts = attempt
                response.backoff_s = waited
                return response
            finally:
                self._semaphore.release()
            if not last.retryable or attempt == self.max_attempts:
                raise last
            if last.kind == "empty" and call_seed is not None:
                call_seed += 1  # a seeded (deterministic) backend would repeat the same empty reply
            delay = self.backoff(attempt, last.retry_after)
            if time.monotonic() + delay >= deadline:
                log.warning("%s: %s; not retrying, the %.0fs call budget would be exceeded",
                            self.name, last, self.call_budget_s)
                raise last
            log.info("%s: %s; retry %d/%d in %.2fs", self.name, last, attempt + 1, self.max_attempts, delay)
            self._wait(delay, cancel, last)
            waited += delay
        if last is None:
            last = LLMError("timeout", f"call budget of {self.call_budget_s}s used up", model=self.name)
        raise last

    # Cancellable waiting ----------------------------------------------------------------------
    def _cancelled(self, cancel: threading.Event | None) -> bool:
        return self._closed.is_set() or (cancel is not None and cancel.is_set())

    def _check_cancel(self, cancel: threading.Event | None, last: LLMError | None) -> None:
        if self._cancelled(cancel):
            err = LLMError("cancelled", "call cancelled" + (f" (last error: {last})" if last else ""),
                           model=self.name)
            if last is not None:
                err.attempts = last.attempts
            raise err

    def _wait(self, seconds: float, cancel: threading.Event | None, last: LLMError | None) -> None:
        end = time.monotonic() + seconds
        while True:
            self._check_cancel(cancel, last)
            left = end - time.monotonic()
            if left <= 0:
                return
            # Wait on our own close-event directly; poll the per-call event every tick.
            self._closed.wait(min(left, _TICK) if cancel is not None else left)

    def _acquire(self, deadline: float, cancel: threading.Event | None, last: LLMError | None) -> None:
        while not self._semaphore.acquire(timeout=_TICK):
            self._check_cancel(cancel, last)
            if time.monotonic() >= deadline:
                raise LLMError("timeout", f"waited the whole {self.call_budget_s}s budget for a free "
                               f"slot (max_concurrency={self.max_concurrency})", model=self.name)
