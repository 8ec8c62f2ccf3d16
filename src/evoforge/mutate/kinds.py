"""The one home of proposal kinds and edit formats.

A *proposal kind* is how a parent becomes a child: a model-driven edit ("diff", "tweak", "full",
"crossover", and the internal "fix" used to repair broken programs) or a zero-cost operator
("perturb", "swap", ...). Each is one `ProposalKind` record here; config validation (with its
nearest-key hint), the kind bandit's default priors, the engine's choice between model and
operator, the proposer and the prompts all read these records, so adding a kind is one
`register` call (see tests/mutate/test_kind_registry.py).

An *edit format* is how a model's reply is read: "diff" (SEARCH/REPLACE, retried in the
conversation when it does not apply), "tweak" (a SEARCH/REPLACE that only changes numbers; it
can be grammar/schema constrained) and "full" (the whole program). Kind and format are separate:
"crossover" and "full" share the "full" format; "fix" answers in the "diff" format.

Registration order matters: it is the order of the default weights, and the bandit draws over
that order, so the same seed gives the same programs.
"""
from __future__ import annotations

import difflib
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

__all__ = [
    "APPLY_MODES",
    "REWRITE_APPLY_MODES",
    "EditFormat",
    "ProposalKind",
    "configurable_names",
    "default_weights",
    "format_of",
    "get",
    "is_model_kind",
    "kinds",
    "model_kind_names",
    "nearest",
    "register",
    "resolve",
    "unregister",
]


# --- edit formats ---------------------------------------------------------------------------------

def _diff_grammar(code: str, language: str, exclude: set[str]) -> str | None:
    from evoforge.mutate.grammar import search_replace_grammar
    return search_replace_grammar(code, language=language)


def _diff_schema(code: str, language: str, exclude: set[str]) -> dict[str, Any] | None:
    from evoforge.mutate.schema_edits import edit_schema
    return edit_schema(code, language=language, tweak=False, exclude=None)


def _tweak_grammar(code: str, language: str, exclude: set[str]) -> str | None:
    from evoforge.mutate.tweak import tweak_grammar
    return tweak_grammar(code, exclude=exclude)


def _tweak_schema(code: str, language: str, exclude: set[str]) -> dict[str, Any] | None:
    from evoforge.mutate.schema_edits import edit_schema
    return edit_schema(code, language=language, tweak=True, exclude=exclude)


Constraint = Callable[[str, str, set[str]], Any]  # (parent code, language, lines to leave out) -> grammar | schema | None


@dataclass(frozen=True)
class EditFormat:
    """How a model's reply is read and constrained.

    ``apply_mode`` is the mode `evoforge.mutate.edits.apply_reply` reads the reply in.
    ``retries``: a failed edit is explained to the model and asked again (mutation.diff_retries).
    ``grammar``/``schema`` build the constraint for servers that enforce one (None: never
    constrained). ``needs_constraint``: a constrained request that cannot be constrained is
    refused rather than sent free (a tweak with no numbers to change). ``remembers_lines``: the
    line a reply edits is remembered so the next ask from the same parent tries another.
    """

    name: str
    apply_mode: str
    retries: bool = False
    grammar: Constraint | None = None
    schema: Constraint | None = None
    needs_constraint: bool = False
    remembers_lines: bool = False
    unconstrainable_reason: str = ""


# How `evoforge.mutate.edits.apply_reply` may read a reply: the formats' apply modes ("diff",
# "full"), "fix" (a diff that always falls back to a rewrite) and "crossover" (read as "full";
# accepted for callers that pass the kind).
APPLY_MODES: tuple[str, ...] = ("diff", "full", "crossover", "fix")
REWRITE_APPLY_MODES: frozenset[str] = frozenset({"full", "crossover"})  # expect the whole program

DIFF = EditFormat("diff", apply_mode="diff", retries=True, grammar=_diff_grammar, schema=_diff_schema)
TWEAK = EditFormat("tweak", apply_mode="diff", retries=True, grammar=_tweak_grammar, schema=_tweak_schema,
                   needs_constraint=True, remembers_lines=True,
                   unconstrainable_reason="tweak: the blocks hold no numbers to change")
FULL = EditFormat("full", apply_mode="full")
FORMATS: Mapping[str, EditFormat] = MappingProxyType({f.name: f for f in (DIFF, TWEAK, FULL)})


# --- proposal kinds -------------------------------------------------------------------------------

Operator = Callable[[str, random.Random, "str | None", str], "str | None"]  # (code, rng, other, language) -> child


def _library_operator(name: str) -> Operator:
    """A kind's operator from the `evoforge.mutate.operators` library (imported when first run)."""
    def run(code: str, rng: random.Random, other: str | None, language: str, **settings: float) -> str | None:
        from evoforge.mutate.operators import apply_operator
        return apply_operator(name, code, rng, other=other, language=language, **settings)
    run.__name__ = f"operator_{name}"
    return run


def _coordinate_operator(code: str, rng: random.Random, other: str | None, language: str,
                         **settings: float) -> str | None:
    """The ``coordinate`` kind's operator (evoforge.mutate.coordinate, imported when first run)."""
    from evoforge.mutate.coordinate import operator
    return operator(code, rng, other, language, **settings)


_coordinate_operator.__name__ = "operator_coordinate"


@dataclass(frozen=True)
class ProposalKind:
    """One way of proposing a child.

    Exactly one of ``edit_format`` (a model-driven kind: the model is asked, its reply read in that
    format) and ``operator`` (a zero-cost kind) is set. ``needs_second_parent``: the kind
    combines the parent with an inspiration; a model kind then falls back to ``fallback`` when no
    second parent exists. ``weights``: the default prior weight per prompt profile ("large",
    "small") when mutation.weights is empty; a kind with no weight for a profile is off there.
    ``configurable``: accepted in mutation.weights (the internal "fix" is not). ``prompt`` is the
    prompt template the kind is asked with (`evoforge.mutate.prompts`); default: its format's.
    ``scaled``: the operator takes a step size (``scale=``, from mutation.perturb_scale).
    """

    name: str
    edit_format: EditFormat | None = None
    operator: Operator | None = None
    needs_second_parent: bool = False
    fallback: str | None = None
    weights: Mapping[str, float] = field(default_factory=dict)
    configurable: bool = True
    prompt: str = ""
    scaled: bool = False

    def __post_init__(self) -> None:
        if (self.edit_format is None) == (self.operator is None):
            raise ValueError(f"kind {self.name!r}: set exactly one of edit_format and operator")
        if self.edit_format is not None and self.needs_second_parent and not self.fallback:
            raise ValueError(f"kind {self.name!r}: a model kind that needs a second parent needs a fallback kind")

    @property
    def model(self) -> bool:
        """Whether the kind asks a model (and so spends a model call)."""
        return self.edit_format is not None

    @property
    def prompt_template(self) -> str:
        return self.prompt or (self.edit_format.name if self.edit_format else "")

    def run_operator(self, code: str, rng: random.Random, other: str | None, language: str,
                     scale: float | None = None) -> str | None:
        """The operator's child, or None when it found nothing to change; `scale` reaches only a
        scaled operator (None: its own default)."""
        if self.operator is None:
            raise TypeError(f"kind {self.name!r} is model-driven, not an operator")
        if self.scaled and scale is not None:
            return self.operator(code, rng, other, language, scale=scale)
        return self.operator(code, rng, other, language)


_REGISTRY: dict[str, ProposalKind] = {}


def register(kind: ProposalKind, *, replace: bool = False) -> ProposalKind:
    """Add a kind (at the end of the order). Registering a name twice is an error unless ``replace``."""
    if kind.name in _REGISTRY and not replace:
        raise ValueError(f"proposal kind {kind.name!r} is already registered")
    if kind.fallback is not None and kind.fallback not in _REGISTRY:
        raise ValueError(f"kind {kind.name!r}: fallback {kind.fallback!r} is not registered")
    _REGISTRY[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    """Remove a kind (for tests that register their own)."""
    _REGISTRY.pop(name, None)


def get(name: str) -> ProposalKind:
    """The kind called ``name``; KeyError (with the nearest name) when there is none."""
    try:
        return _REGISTRY[name]
    except KeyError:
        close = nearest(name)
        raise KeyError(f"unknown proposal kind {name!r}" + (f"; did you mean {close!r}?" if close else "")) from None


def kinds() -> list[ProposalKind]:
    """All kinds, in registration order."""
    return list(_REGISTRY.values())


def configurable_names() -> tuple[str, ...]:
    """The kinds mutation.weights accepts, in order."""
    return tuple(k.name for k in _REGISTRY.values() if k.configurable)


def model_kind_names() -> frozenset[str]:
    """The model-driven kinds (internal ones included)."""
    return frozenset(k.name for k in _REGISTRY.values() if k.model)


def is_model_kind(name: str) -> bool:
    kind = _REGISTRY.get(name)
    return kind is not None and kind.model


def format_of(name: str) -> EditFormat:
    """The edit format a model kind's reply is read in."""
    fmt = get(name).edit_format
    if fmt is None:
        raise TypeError(f"kind {name!r} is an operator; it has no edit format")
    return fmt


def resolve(name: str, *, has_second_parent: bool) -> str:
    """The kind actually asked for: a kind that needs a second parent, with none to hand, asks as
    its fallback (a crossover with no inspiration is a full rewrite)."""
    kind = get(name)
    if kind.needs_second_parent and not has_second_parent and kind.fallback:
        return kind.fallback
    return name


def nearest(name: str) -> str | None:
    """The configurable kind name closest to a misspelt one (for config hints), or None."""
    close = difflib.get_close_matches(name, configurable_names(), n=1)
    return close[0] if close else None


def default_weights(profile: str) -> dict[str, float]:
    """The prior kind weights for a prompt profile ("large" or "small"), in registration order."""
    return {k.name: float(k.weights[profile]) for k in _REGISTRY.values() if k.configurable and profile in k.weights}


# Built-in kinds. Prior weights, per prompt profile (the bandit adapts them during a run). Why two:
# measured with SmolLM2-135M, whole-program rewrites ("full", "crossover") spend the most tokens
# (384 per reply, ~12 s on a laptop CPU) and almost never parse, while grammar-constrained tweaks
# and the zero-cost operators do pay; a capable model is the other way round.
def _w(large: float, small: float) -> Mapping[str, float]:
    return MappingProxyType({"large": large, "small": small})


register(ProposalKind("diff", edit_format=DIFF, weights=_w(0.35, 0.2)))
register(ProposalKind("tweak", edit_format=TWEAK, weights=_w(0.15, 0.3)))
register(ProposalKind("full", edit_format=FULL, weights=_w(0.15, 0.02)))
register(ProposalKind("crossover", edit_format=FULL, needs_second_parent=True, fallback="full",
                      weights=_w(0.05, 0.01), prompt="crossover"))
register(ProposalKind("perturb", operator=_library_operator("perturb"), weights=_w(0.2, 0.33), scaled=True))
register(ProposalKind("swap", operator=_library_operator("swap"), weights=_w(0.03, 0.03)))
register(ProposalKind("duplicate", operator=_library_operator("duplicate"), weights=_w(0.02, 0.02)))
register(ProposalKind("delete", operator=_library_operator("delete"), weights=_w(0.02, 0.02)))
register(ProposalKind("block_crossover", operator=_library_operator("crossover"), needs_second_parent=True,
                      weights=_w(0.03, 0.07)))
# coordinate screening of a program's numeric knobs (evoforge.mutate.coordinate): no default
# weight, so off unless a run's mutation.weights names it (the no-model self-improve outer run does)
register(ProposalKind("coordinate", operator=_coordinate_operator, scaled=True))
# repairs a broken program when no valid one exists; chosen by the engine, never configured
register(ProposalKind("fix", edit_format=DIFF, configurable=False, prompt="fix"))
