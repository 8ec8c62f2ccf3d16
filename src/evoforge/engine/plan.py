"""A proposal's plan: which parent, which kind, which inspirations, on which island.

Why typed: the plan is made under the engine's lock and carried out outside it (the model call
is slow), so everything the second half needs travels in this one record instead of an untyped
dict whose keys both halves must agree on.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

from ..mutate import kinds as kind_registry
from ..search.population import Population
from ..search.selection import ParentSelector
from ..strategy import DefaultStrategy


@dataclass(frozen=True)
class ProposalPlan:
    kind: str                  # a kind of the registry in evoforge.mutate.kinds ("fix" to repair a broken parent)
    island: int
    parent: str                # attempt id
    fitness: float | None      # the parent's fitness (None: a broken parent)
    generation: int
    index: int                 # the proposal index, unique in the run
    inspirations: list[str] = field(default_factory=list)


@dataclass
class ParentNotes:
    """What the engine remembers per parent between proposals, so the next prompt from the same
    parent differs: replies the model already gave, how often it repeated itself (the sampling
    is varied), which lines tweaks targeted, and why the last child failed."""

    seen_replies: dict[str, set[str]] = field(default_factory=dict)
    repeats: dict[str, int] = field(default_factory=dict)
    tweaked: dict[str, set[str]] = field(default_factory=dict)
    last_failure: dict[str, str] = field(default_factory=dict)


def plan_proposal(population: Population, selector: ParentSelector, strategy: DefaultStrategy, *, kind: str, island: int,
                  rng: random.Random, index: int, inspirations: int) -> ProposalPlan:
    """Choose the parent (a broken program to fix when nothing valid exists) and inspirations."""
    member = population.select_parent(island, rng, selector)
    if member is None:
        broken = population.pick_broken(rng)
        return ProposalPlan("fix" if kind_registry.is_model_kind(kind) else kind, island, broken, None, 1, index)
    pool = population.inspirations(island, member.id, rng, 3 * inspirations)
    candidates = [{"id": i, "fitness": population.fitness_of(i)} for i in pool]
    chosen = [i for i in strategy.choose_inspirations(candidates, inspirations, rng) if i in pool][:inspirations]
    return ProposalPlan(kind, island, member.id, member.fitness, member.generation + 1, index, chosen)
