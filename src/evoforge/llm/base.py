"""The one base every model provider subclasses, its reply type and its error type.

Why one declared base (`ProviderBase`) rather than a duck-typed protocol: the engine, the
bandit ensemble, the retry layer and the tests used keyword arguments (``timeout``,
``reasoning_effort``, ``json_schema``) and methods (``embed``, ``close``) that the old
protocol did not declare, so every caller probed with ``inspect.signature``, ``getattr`` and
``hasattr``. Now each provider subclasses the base and therefore *has* every attribute and
accepts every keyword; what a backend cannot do is said by a declared capability flag
(``supports_grammar``, ``supports_json_schema``, ``supports_embeddings``), never by a
missing attribute. A new backend is one subclass and one entry in the conformance suite
(`evoforge.testing.provider_suite`).
Errors are normalised into `LLMError` with a coarse `kind` so the retry layer can decide
what to retry without knowing any SDK's exception zoo.
"""
from __future__ import annotations

import abc
import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from .request import CompletionRequest

# Kinds of failure. Retryable by default: a later identical call may well succeed.
ERROR_KINDS = (
    "rate_limit", "server", "timeout", "connection", "empty",   # retryable
    "auth", "bad_request", "truncated", "cancelled", "unsupported",  # not retryable
)
RETRYABLE_KINDS = frozenset({"rate_limit", "server", "timeout", "connection", "empty"})

Message = Mapping[str, str]


@dataclass
class LLMResponse:
    """One successful model reply.

    ``output_tokens`` is everything billed as output, *including* ``reasoning_tokens``
    (OpenAI's convention for ``completion_tokens``); ``reasoning_tokens`` is the hidden subset.
    Providers whose API reports them separately add them up, so cost is computed once.
    ``attempts`` says how many calls the retry layer needed (1 without retries);
    ``backoff_s`` how long it chose to wait between them (Retry-After and jitter included).
    """

    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    finish_reason: str = ""
    reasoning: str = ""
    attempts: int = 1
    backoff_s: float = 0.0


class LLMError(Exception):
    """A model call failed. ``kind`` is one of `ERROR_KINDS`; ``retryable`` says whether the
    retry layer should try again. Usage is attached when the server reported it (an empty or
    truncated reply still costs tokens, and the engine records it).
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        retryable: bool | None = None,
        status: int | None = None,
        retry_after: float | None = None,
        model: str = "",
        input_tokens: int = 0,
        output_tokens: int = 0,
        reasoning_tokens: int = 0,
        latency_s: float = 0.0,
        cost_usd: float = 0.0,
        text: str = "",
    ) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown LLMError kind {kind!r}")
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.status = status
        self.retry_after = retry_after
        self.model = model
        self.input_tokens = input_tokens
        self.output_tokens = output_tokens
        self.reasoning_tokens = reasoning_tokens
        self.latency_s = latency_s
        self.cost_usd = cost_usd
        self.text = text
        self.attempts = 1
        self.backoff_s = 0.0  # waited between attempts before this error (set by the retry layer)

    def __reduce__(self) -> tuple[Any, ...]:
        # Survive pickling (process pools, executors): rebuild from kind/message, then state.
        return (type(self), (self.kind, self.message), self.__dict__.copy())

    def __str__(self) -> str:
        where = f" [{self.model}]" if self.model else ""
        status = f" HTTP {self.status}" if self.status else ""
        tries = f" after {self.attempts} attempts" if self.attempts > 1 else ""
        return f"{self.kind}{status}{where}: {self.message}{tries}"


class ProviderBase(abc.ABC):
    """What the engine needs from a model; every provider subclasses it.

    Declared attributes (class defaults, set per instance by the constructors):

    * ``name``: the model string the provider was created from (``ollama/llama3``);
      ``model``: the id sent to the backend.
    * ``context_length``: tokens the model reads (prompt profiles are chosen from it).
    * ``max_concurrency``: requests a caller may keep in flight on this object. A bare
      provider says 1 (what the engine assumed for an undeclared one); the retry layer,
      which owns the concurrency limit, says its semaphore's size.
    * ``supports_grammar`` / ``supports_json_schema``: whether a ``grammar`` (GBNF) or a
      ``json_schema`` passed to `complete` constrains the reply. Where the flag is False the
      argument is accepted and ignored, so a caller never needs to branch on the signature.
    * ``supports_embeddings``: whether `embed` works; where not, it raises `LLMError`
      with kind ``"unsupported"`` (not retryable).
    """

    name: str = ""
    model: str = ""
    context_length: int = 128_000
    max_concurrency: int = 1
    supports_grammar: bool = False
    supports_json_schema: bool = False
    supports_embeddings: bool = False

    # Every keyword `complete` takes (the fields of `CompletionRequest`), for documentation and
    # for the conformance suite: the retry layer forwards all of them, so an override of
    # `complete` must accept all of them.
    COMPLETE_KEYWORDS: ClassVar[tuple[str, ...]] = tuple(f.name for f in fields(CompletionRequest))

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
    ) -> LLMResponse:
        """One model call, no retries; raises `LLMError` on every API failure.

        ``temperature=None`` leaves it to the backend. ``timeout`` (seconds) caps this call
        below the provider's own timeout (the retry layer passes what is left of its budget;
        an in-process model, which cannot be interrupted, ignores it). ``reasoning_effort``
        ("low" | "medium" | "high") is a hint only reasoning models act on; others ignore it.
        ``grammar`` and ``json_schema`` constrain the reply where the matching ``supports_*``
        flag is True and are ignored otherwise (a grammar wins when both are given).

        A template method: this is the one place the keywords are spelled out; they are packed
        into a `CompletionRequest` and the provider's `_complete` makes the call.
        """
        return self._complete(messages, CompletionRequest(
            temperature=temperature, max_tokens=max_tokens, seed=seed, grammar=grammar, stop=stop,
            timeout=timeout, reasoning_effort=reasoning_effort, json_schema=json_schema))

    @abc.abstractmethod
    def _complete(self, messages: list[dict[str, str]], request: CompletionRequest) -> LLMResponse:
        """The call itself (what `complete` promises), with its parameters as one object."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass may still override `complete` itself, as every provider did before the
        template method (tests and user code do): then that override *is* its implementation,
        so `_complete` is routed to it rather than left abstract (which would make the class
        impossible to instantiate). A class that defines neither stays abstract, as before."""
        super().__init_subclass__(**kwargs)
        if cls.complete is not ProviderBase.complete and getattr(cls._complete, "__isabstractmethod__", False):
            cls._complete = _through_complete  # type: ignore[method-assign]

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One embedding vector per text. This default says the backend has none; providers
        with ``supports_embeddings = True`` override it."""
        raise LLMError("unsupported", f"{self.name or type(self).__name__} offers no embeddings "
                       "(use an OpenAI-compatible model string, e.g. openai/text-embedding-3-small)",
                       model=self.name)

    def close(self) -> None:
        """Release connections or a loaded model. Idempotent; the default has nothing to release."""


def _through_complete(self: ProviderBase, messages: list[dict[str, str]], request: CompletionRequest) -> LLMResponse:
    """`_complete` for a provider that overrides `complete` (see `ProviderBase.__init_subclass__`)."""
    return self.complete(messages, **request.keywords())


# The name callers and type hints have always used; it is the base class now, not a Protocol.
LLMProvider = ProviderBase


def parse_retry_after(headers: Mapping[str, str] | Any | None, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta seconds or HTTP date) or ``retry-after-ms``.

    Servers say how long to back off on 429/503; honouring it is both polite and faster than
    guessing. Returns None when absent or unparseable; never negative.
    """
    if headers is None:
        return None
    get = headers.get if hasattr(headers, "get") else (lambda _k: None)
    ms = get("retry-after-ms") or get("Retry-After-Ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = get("retry-after") or get("Retry-After")
    if not value:
        return None
    value = str(value).strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_from_status(status: int, message: str, *, headers: Any = None, model: str = "") -> LLMError:
    """Map an HTTP status to an `LLMError` kind; shared by every HTTP-based provider."""
    retry_after = parse_retry_after(headers)
    if status == 429:
        kind = "rate_limit"
    elif status in (401, 403):
        kind = "auth"
    elif status == 408:
        kind = "timeout"
    elif status in (409, 425) or status >= 500:  # 529 = Anthropic "overloaded"
        kind = "server"
    else:
        kind = "bad_request"
    return LLMError(kind, message, status=status, retry_after=retry_after, model=model)


_THINK = re.compile(r"^\s*<think>(.*?)(?:</think>|$)", re.DOTALL)


def split_think(text: str) -> tuple[str, str]:
    """Split a leading ``<think>…</think>`` block (R1/Qwen-style local models) off the answer.

    Without this, edit parsers downstream would see chain-of-thought as part of the reply.
    Returns (answer, reasoning).
    """
    m = _THINK.match(text)
    if not m:
        return text, ""
    return text[m.end():].lstrip(), m.group(1).strip()


def check_reply(resp: LLMResponse) -> LLMResponse:
    """Turn a reply with no usable text into an `LLMError` ("truncated" if the model ran out
    of tokens, else "empty"), keeping usage on the error so it is still recorded."""
    if resp.text.strip():
        return resp
    kind = "truncated" if resp.finish_reason == "length" else "empty"
    why = ("the reply hit max_tokens before any answer text" if kind == "truncated"
           else f"the model returned no text (finish_reason={resp.finish_reason or 'none'})")
    raise LLMError(
        kind, why, model=resp.model, input_tokens=resp.input_tokens,
        output_tokens=resp.output_tokens, reasoning_tokens=resp.reasoning_tokens,
        latency_s=resp.latency_s, cost_usd=resp.cost_usd, text=resp.text,
    )


def redact(secret: object) -> str:
    """How a secret may appear in a repr or log: never, only whether it is set."""
    return "<set>" if secret else "<unset>"
