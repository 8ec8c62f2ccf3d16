"""The numeric policy a strategy may set for its inner runs: config overrides, checked.

Why config overrides: the operator weights, the selection pressure and the island settings are
already config keys of every run (`evoforge.config`), so a strategy that returns
``config_overrides() -> {"search.islands": 1, ...}`` changes the numeric policy of the inner
engine without any engine change, and the same overrides reach an ordinary run with ``evoforge run TASK --strategy FILE``
(`strategy_overrides`) or as ``--set`` lines. Only the keys in `POLICY_KEYS` are accepted: a strategy may change how the
search spends its budget, never the budget itself, the evaluator, the seed, the model or the
safety checks (a strategy that raised the inner budget would "win" by spending more).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import load_config
from ..errors import ConfigError
from ..mutate import kinds as kind_registry

POLICY_KEYS = frozenset({
    "mutation.weights", "mutation.adaptive", "mutation.fill_idle", "mutation.perturb_scale",
    "search.islands", "search.parent_selection", "search.sharpness", "search.inspirations",
    "search.migration_interval", "search.archive_size", "search.beam_width", "search.expansions_per_node",
    "search.stagnation_limit", "search.novelty", "search.novelty_threshold", "search.max_novelty_resamples",
})
MAX_ISLANDS = 16


class PolicyError(ValueError):
    """The overrides a strategy returned are not an acceptable numeric policy."""


def check_policy(value: Any) -> dict[str, Any]:
    """`value` as validated dotted overrides, or PolicyError saying why not."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(f"config_overrides must return a dict of config key -> value, got {type(value).__name__}")
    out: dict[str, Any] = {}
    for key, v in value.items():
        if key not in POLICY_KEYS:
            raise PolicyError(f"config_overrides may not set {key!r}; allowed: {', '.join(sorted(POLICY_KEYS))}")
        out[key] = v
    try:
        json.dumps(out)
    except (TypeError, ValueError) as exc:
        raise PolicyError(f"config_overrides must be plain data: {exc}") from None
    if isinstance(out.get("search.islands"), int) and out["search.islands"] > MAX_ISLANDS:
        raise PolicyError(f"search.islands: at most {MAX_ISLANDS} in an inner run, got {out['search.islands']}")
    try:
        load_config({}, out)
    except ConfigError as exc:
        raise PolicyError(f"config_overrides: {exc}") from None
    return out


def strategy_overrides(path: str | Path) -> dict[str, Any]:
    """The overrides that make an ordinary run use the strategy file at `path` with its numeric
    policy: ``strategy`` (the absolute path) and its checked `config_overrides()`.

    Why the file is loaded in this process: the run loads a ``strategy: PATH`` file in process
    anyway, so reading its policy trusts it no more than running it; a model-written strategy is
    run through its sandboxed proxy (``OUT/incumbent_sandboxed.py`` of a promotion), whose
    config_overrides() runs in the sandbox. Raises ConfigError naming the file."""
    from ..strategy import load_strategy

    file = Path(path).expanduser().resolve()
    strategy = load_strategy(str(file))
    try:
        policy = check_policy(strategy.config_overrides())
    except PolicyError as exc:
        raise ConfigError(f"strategy {file}: {exc}") from None
    except Exception as exc:  # a strategy's own bug, said plainly
        raise ConfigError(f"strategy {file}: config_overrides() failed: {type(exc).__name__}: {exc}") from None
    return {"strategy": str(file), **policy}


def operator_weights(profile: str = "small") -> dict[str, float]:
    """evoforge's default prior weights of the zero-cost operators alone, for inner runs with no
    model: what a run does by default once the model kinds are taken away (the embedded model's
    profile, "small", unless told otherwise)."""
    return {k: w for k, w in kind_registry.default_weights(profile).items() if not kind_registry.is_model_kind(k)}


def describe_change(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Human-readable lines for what differs between two effective policies (flat dicts)."""
    lines = []
    for key in sorted(set(before) | set(after)):
        a, b = before.get(key), after.get(key)
        if a == b:
            continue
        if isinstance(a, (int, float)) and isinstance(b, (int, float)) and a:
            lines.append(f"{key}: {a:g} -> {b:g} (x{b / a:.3g})")
        else:
            lines.append(f"{key}: {a!r} -> {b!r}")
    return lines
