"""A Strategy is everything that turns a parent into a proposal: the system prompt and prompt
templates, the mutation-kind policy, the sampling temperature and the choice of inspirations.

Strategies are plain Python modules so that the engine can evolve them like any program
(``evoforge self-improve``). A strategy file defines a class ``Strategy`` (usually subclassing
`DefaultStrategy` and overriding a method or two) or module-level functions with the same names
as the methods below; anything it does not define falls back to the default.

Interface (all optional to override):

- ``build_messages(**context) -> list[dict]`` — the chat messages for one proposal. ``context``
  holds task_description, parent_code, parent_score, parent_feedback, mode, inspirations,
  insights, profile, direction, other_parent_code, failure_note (see `mutate.prompts`).
- ``retry_messages(messages, reply, error_reason) -> list[dict]`` — the follow-up after a diff
  that did not apply.
- ``mutation_weights(weights: dict[str, float]) -> dict[str, float]`` — reweight proposal kinds.
- ``temperature(base: float, repeats: int) -> float`` — ``repeats`` counts earlier replies the
  model repeated for this parent.
- ``choose_inspirations(candidates: list[dict], k: int, rng) -> list[str]`` — candidates hold
  id and fitness; return up to k ids.
- ``config_overrides() -> dict[str, Any]`` — the numeric policy: dotted config keys (operator
  weights ``mutation.weights``, selection pressure ``search.sharpness``, ``search.islands``, ...;
  the allowed keys are `evoforge.rsi.policy.POLICY_KEYS`) that ``evoforge self-improve`` applies
  to its inner runs. A ``strategy:`` key alone does not apply it; ``evoforge run TASK --strategy
  FILE`` does (`evoforge.rsi.policy.strategy_overrides`), and a promoted strategy's overrides are
  also written out as ``--set`` lines (``OUT/incumbent_config.txt``).
- ``observe(attempt)``, ``bind(llm)``, ``state()``, ``load_state(state)`` — hooks for strategies
  that learn during a run (see `DefaultStrategy`).
"""
from __future__ import annotations

import importlib.util
import random
import sys
from pathlib import Path
from typing import Any

from .errors import ConfigError
from .mutate import prompts

STRATEGY_METHODS = ("build_messages", "retry_messages", "mutation_weights", "temperature", "choose_inspirations",
                    "config_overrides", "observe", "bind", "state", "load_state")


class DefaultStrategy:
    """evoforge's built-in strategy."""

    name = "default"

    def build_messages(self, **context: Any) -> list[dict[str, str]]:
        return prompts.build_messages(**context)

    def retry_messages(self, messages: list[dict[str, str]], reply: str, error_reason: str) -> list[dict[str, str]]:
        return prompts.retry_messages(messages, reply, error_reason)

    def mutation_weights(self, weights: dict[str, float]) -> dict[str, float]:
        return dict(weights)

    def temperature(self, base: float, repeats: int) -> float:
        return min(1.5, base + 0.25 * repeats)

    def choose_inspirations(self, candidates: list[dict[str, Any]], k: int, rng: random.Random) -> list[str]:
        return [c["id"] for c in candidates[:k]]

    def config_overrides(self) -> dict[str, Any]:
        """The numeric policy for self-improve's inner runs (none: the run's own config)."""
        return {}

    # -- hooks for strategies that learn during a run (e.g. rsi.prompt_evolution) ------------
    def observe(self, attempt: Any) -> None:
        """Called after every attempt is recorded."""

    def bind(self, llm: Any) -> None:
        """Receives ``llm(messages, purpose) -> str``: model calls within the run's budget, stored
        with their purpose."""

    def state(self) -> Any:
        """JSON-able state saved with the run (None: nothing to save)."""
        return None

    def load_state(self, state: Any) -> None:
        """Restores `state()` on resume."""


class _ModuleStrategy(DefaultStrategy):
    """Adapts a module of functions (or a module defining ``Strategy``) to the interface."""

    def __init__(self, module: Any, name: str) -> None:
        self.name = name
        impl = getattr(module, "Strategy", None)
        target = impl() if isinstance(impl, type) else module
        for method in STRATEGY_METHODS:
            fn = getattr(target, method, None)
            if fn is not None and callable(fn):
                setattr(self, method, fn)


def load_strategy(spec: str | None, base_dir: Path | None = None) -> DefaultStrategy:
    """``default`` (or empty) or a path to a strategy ``.py`` file (relative to `base_dir`)."""
    if not spec or spec == "default":
        return DefaultStrategy()
    path = Path(spec).expanduser()
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    if not path.is_file():
        raise ConfigError(f"strategy: no file {path} (use 'default' or a path to a strategy .py file)")
    module_name = f"evoforge_strategy_{abs(hash(str(path.resolve())))}"
    loader_spec = importlib.util.spec_from_file_location(module_name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise ConfigError(f"strategy: cannot load {path}")
    module = importlib.util.module_from_spec(loader_spec)
    try:
        sys.modules[module_name] = module
        loader_spec.loader.exec_module(module)
    except Exception as exc:  # a broken strategy is a user error, said plainly
        sys.modules.pop(module_name, None)
        raise ConfigError(f"strategy {path} failed to load: {type(exc).__name__}: {exc}") from None
    return _ModuleStrategy(module, path.stem)
