"""The research loop's settings (``research.yaml`` in a topic folder, ``--set`` on the command line).

Strict like the task config: an unknown key is an error naming the nearest valid key, and every
number is range-checked at load, so a typo never silently runs a different study. The stage
budgets live here, in the trusted topic folder, and are written into each stage's task folder by
the loop: nothing an experiment's code or the model writes can change them.
"""
from __future__ import annotations

import dataclasses
import difflib
import typing
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from ..mutate import kinds

ISOLATION_CHOICES = ("auto", "bwrap", "landlock", "unshare", "none")
STAGES = ("draft", "debug", "tune")   # model stages, in order; "ablate" is trusted code (ablate_max)


@dataclass
class StageBudget:
    """One stage's budget: model calls, proposals (model edits plus zero-cost operators) and the
    edit kinds it uses (names of evoforge.mutate.kinds, checked when the stage's run loads)."""

    llm_calls: int = 2
    proposals: int = 4
    weights: dict[str, float] = field(default_factory=dict)


def _weights(**by_kind: float) -> dict[str, float]:
    """Stage weights by kind name, each looked up in the registry (evoforge.mutate.kinds) so a
    renamed kind fails here at import rather than when a stage's run loads."""
    return {kinds.get(name).name: w for name, w in by_kind.items()}


def _draft() -> StageBudget:
    # a first version of the idea: whole rewrites and SEARCH/REPLACE edits, equally
    return StageBudget(llm_calls=2, proposals=3, weights=_weights(full=1.0, diff=1.0))


def _debug() -> StageBudget:
    return StageBudget(llm_calls=1, proposals=2, weights=_weights(diff=1.0, full=1.0))


def _tune() -> StageBudget:
    # tuning the constants of the idea: mostly zero-cost perturbations, some model edits
    return StageBudget(llm_calls=1, proposals=6, weights=_weights(perturb=2.0, diff=1.0))


@dataclass
class ResearchSettings:
    """See docs/research.md for what each key does."""

    ideas: int = 1                  # new ideas the model proposes per invocation (seed ideas come on top, once)
    reflections: int = 2            # reflection rounds per new idea
    retries: int = 3                # model calls allowed per structured record (bad JSON is retried)
    novelty_threshold: float = 0.6  # MinHash similarity at or above which an idea is not novel
    corpus: str | None = None       # folder of .txt/.md files (relative to the topic) ideas must differ from
    draft: StageBudget = field(default_factory=_draft)
    debug: StageBudget = field(default_factory=_debug)
    tune: StageBudget = field(default_factory=_tune)
    ablate_max: int = 6             # changed hunks reverted one at a time in the ablation (0 = no ablation)
    seeds: int = 3                  # fresh seeds the best node and the baseline are re-evaluated on
    reviewers: int = 3              # reviewer calls in the ensemble
    review_reflections: int = 1     # rounds in which each reviewer revises its own review
    isolation: str = "auto"         # the sandbox level of every experiment (evaluator.isolation)
    stage_wall_clock_s: float = 900.0  # wall clock of one stage run
    temperature: float = 0.7
    max_tokens: int = 700
    pdf: bool = True                # also print each report as PDF where a renderer is found (research/pdf.py)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'research.yaml'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"unknown research key '{path}'{hint}")
        kwargs[key] = _value(value, hints[key], path)
    return cls(**kwargs)


def _value(value: Any, tp: Any, where: str) -> Any:
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if typing.get_origin(tp) is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ConfigError(f"{where}: expected a mapping of names to numbers, got {value!r}")
        return {k: _value(v, float, f"{where}.{k}") for k, v in value.items()}
    if tp == (str | None):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"{where}: expected a folder path or null, got {value!r}")
        return value
    if tp is str and not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (tp is int and not isinstance(value, int)):
            raise ConfigError(f"{where}: expected {'an integer' if tp is int else 'a number'}, got {value!r}")
        return tp(value)
    return value


def _check(s: ResearchSettings) -> None:
    def at_least(name: str, value: float, low: float) -> None:
        if value < low:
            raise ConfigError(f"research key '{name}' must be at least {low:g}, got {value!r}")

    for name in ("ideas", "reflections", "ablate_max", "review_reflections"):
        at_least(name, getattr(s, name), 0)
    for name in ("retries", "seeds", "reviewers", "max_tokens"):
        at_least(name, getattr(s, name), 1)
    at_least("stage_wall_clock_s", s.stage_wall_clock_s, 1)
    if not 0 < s.novelty_threshold <= 1:
        raise ConfigError(f"research key 'novelty_threshold' must be in (0, 1], got {s.novelty_threshold!r}")
    if s.isolation not in ISOLATION_CHOICES:
        close = difflib.get_close_matches(s.isolation, ISOLATION_CHOICES, n=1)
        raise ConfigError(f"research key 'isolation': {s.isolation!r} is not one of {', '.join(ISOLATION_CHOICES)}"
                          + (f" (did you mean {close[0]!r}?)" if close else ""))
    for stage in STAGES:
        budget: StageBudget = getattr(s, stage)
        at_least(f"{stage}.llm_calls", budget.llm_calls, 0)
        at_least(f"{stage}.proposals", budget.proposals, 0)
        if budget.proposals < budget.llm_calls:
            raise ConfigError(f"research key '{stage}.proposals' ({budget.proposals}) must be at least "
                              f"'{stage}.llm_calls' ({budget.llm_calls}): every model call is a proposal")
        if budget.proposals and not budget.weights:
            raise ConfigError(f"research key '{stage}.weights' is empty: name the edit kinds the stage uses")


def load_settings(data: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> ResearchSettings:
    """Validate ``research.yaml`` (a mapping) plus dotted overrides (``draft.llm_calls``)."""
    raw: dict[str, Any] = {k: (dict(v) if isinstance(v, dict) else v) for k, v in (data or {}).items()}
    for key, value in (overrides or {}).items():
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.get(part)
            if not isinstance(nxt, dict):
                nxt = {}
                node[part] = nxt
            node = nxt
        node[parts[-1]] = value
    settings = _build(ResearchSettings, raw, "")
    _check(settings)
    return settings
