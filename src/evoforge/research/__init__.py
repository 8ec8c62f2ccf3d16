"""The automated research loop (``evoforge research``): ideas → staged experiments → reports →
reviews, built on evoforge's engine, sandbox, storage and providers. See docs/research.md."""
from __future__ import annotations

from typing import Any

__all__ = ["ResearchSummary", "Topic", "load_topic", "research"]


def __getattr__(name: str) -> Any:
    # lazy: `evoforge --help` imports the CLI module only
    if name in ("research", "ResearchSummary"):
        from . import loop

        return getattr(loop, name)
    if name in ("Topic", "load_topic"):
        from . import topic

        return getattr(topic, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
