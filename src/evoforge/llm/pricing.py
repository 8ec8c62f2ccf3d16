"""USD cost of a model call from token counts.

Why a shipped table rather than asking the API: no provider returns the price, and budgets
("stop at $5") must work offline and identically in tests. Prices live in ``prices.json``
(package data) so they can be updated without touching code; a run may override them.
Self-hosted backends (embedded, local gguf, Ollama, llama.cpp server, vLLM) cost 0.
An unknown model costs 0 with a single warning, so a missing price never stops a run but is
never silent either.
"""
from __future__ import annotations

import json
import logging
import threading
import warnings
from collections.abc import Mapping
from functools import lru_cache
from importlib import resources
from typing import Any

log = logging.getLogger(__name__)

PriceOverrides = Mapping[str, Any]  # model -> {"input": x, "output": y} or (x, y), USD per 1M

_warned: set[str] = set()
_warn_lock = threading.Lock()


@lru_cache(maxsize=1)
def _table() -> dict[str, Any]:
    text = resources.files("evoforge.llm").joinpath("prices.json").read_text(encoding="utf-8")
    return json.loads(text)


def known_models() -> list[str]:
    """Models with a listed price (prefixes of dated ids)."""
    return sorted(_table()["models"])


def _as_pair(value: Any) -> tuple[float, float]:
    if isinstance(value, Mapping):
        return float(value["input"]), float(value["output"])
    inp, out = value
    return float(inp), float(out)


def _candidates(model: str) -> list[str]:
    """Spellings to try: as given, without a provider/vendor prefix (``openai/gpt-4o``,
    OpenRouter's ``anthropic/claude-3.5-sonnet``), and with dots as dashes."""
    names = [model]
    if "/" in model:
        names.append(model.rsplit("/", 1)[1])
    names += [n.replace(".", "-") for n in names if "." in n]
    return [n.split("@", 1)[0].lower() for n in names]


def _lookup(names: list[str], prices: Mapping[str, Any]) -> tuple[float, float] | None:
    keys = {k.lower(): k for k in prices}
    for name in names:
        if name in keys:
            return _as_pair(prices[keys[name]])
    for name in names:  # longest listed prefix ending at a boundary: gpt-4o-mini-2024-07-18
        best = max((k for k in keys if name.startswith(k) and name[len(k):len(k) + 1] in ("-", ":")),
                   key=len, default=None)
        if best is not None:
            return _as_pair(prices[keys[best]])
    return None


def price_of(model: str, overrides: PriceOverrides | None = None) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens, or None if unknown. Free backends give (0, 0)."""
    table = _table()
    if overrides:
        found = _lookup(_candidates(model), overrides)
        if found is not None:
            return found
    low = model.lower()
    if any(low == p.rstrip("/") or low.startswith(p) for p in table["free_prefixes"]):
        return (0.0, 0.0)
    return _lookup(_candidates(model), table["models"])


def cost_usd(
    model: str,
    in_tok: int,
    out_tok: int,
    reasoning_tok: int = 0,
    overrides: PriceOverrides | None = None,
    *,
    reasoning_included: bool = True,
) -> float:
    """Cost of one call. Reasoning tokens are billed as output exactly once: by default they
    are assumed already inside ``out_tok`` (OpenAI's ``completion_tokens`` and our
    `LLMResponse.output_tokens` include them); pass ``reasoning_included=False`` when a
    count excludes them."""
    price = price_of(model, overrides)
    if price is None:
        with _warn_lock:
            first = model not in _warned
            _warned.add(model)
        if first:
            msg = (f"no price known for model {model!r}; its cost is counted as $0. "
                   "Add it with pricing overrides to enforce a cost budget.")
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
            log.warning(msg)
        return 0.0
    billed_out = out_tok if reasoning_included else out_tok + reasoning_tok
    return (in_tok * price[0] + billed_out * price[1]) / 1_000_000


def _reset_warnings() -> None:
    """For tests: forget which unknown models were already warned about."""
    with _warn_lock:
        _warned.clear()
