"""evoforge's default numeric search policy, written out as an evolvable program.

The starting point of the no-model self-improvement demo (examples/self_improve/numeric/README.md):
only the numbers below evolve, so every outer proposal (a zero-cost `perturb` of this file)
changes how the inner engine spends its proposals: the operator weights, the perturb operator's
step size, the parent-selection pressure and the island settings. Prompts, temperature and inspirations are not defined here, so
they stay evoforge's defaults.

Each knob is a small integer because the perturb operator moves a small integer by exactly one:
one level of a *_LEVEL knob is a factor of two, and SELECTION climbs a ladder of ever greedier
parent selection. Unchanged, the knobs are evoforge's defaults (tests/rsi checks that this file
sets no override and keeps the default weights), so a promoted variant is measured against the
real default.
"""
from __future__ import annotations

from typing import Any

# EVOLVE-BLOCK-START
ISLANDS = 2              # search.islands
SELECTION = 0            # 0 weighted (default), 1 power_law, 2 beam, 3 hill_climb
SELECTION_LEVEL = 4      # search.sharpness = 10 * 2 ** (SELECTION_LEVEL - 4) (the weighted rule's pressure)
MIGRATION_LEVEL = 4      # search.migration_interval = 10 * 2 ** (MIGRATION_LEVEL - 4) proposals
STEP_LEVEL = 4           # mutation.perturb_scale = 0.1 * 2 ** (STEP_LEVEL - 4) (perturb's relative step size)
PERTURB_LEVEL = 4        # weight of each zero-cost operator = default weight * 2 ** (LEVEL - 4)
SWAP_LEVEL = 4
DUPLICATE_LEVEL = 4
DELETE_LEVEL = 4
CROSSOVER_LEVEL = 4      # block_crossover
# EVOLVE-BLOCK-END

_LADDER = ("weighted", "power_law", "beam", "hill_climb")


def _levels() -> dict[str, int]:
    return {"perturb": PERTURB_LEVEL, "swap": SWAP_LEVEL, "duplicate": DUPLICATE_LEVEL, "delete": DELETE_LEVEL,
            "block_crossover": CROSSOVER_LEVEL}


def mutation_weights(weights: dict[str, float]) -> dict[str, float]:
    """Scale each operator's configured weight by its level (model kinds keep theirs)."""
    levels = _levels()
    return {k: float(w) * 2.0 ** (levels.get(k, 4) - 4) for k, w in weights.items()}


def config_overrides() -> dict[str, Any]:
    """Only what differs from the default, so a task's own settings stand until evolved."""
    out: dict[str, Any] = {}
    if ISLANDS != 2:
        out["search.islands"] = max(1, int(ISLANDS))
    if SELECTION != 0:
        out["search.parent_selection"] = _LADDER[min(int(SELECTION), len(_LADDER) - 1)]
    if SELECTION_LEVEL != 4:
        out["search.sharpness"] = 10.0 * 2.0 ** (SELECTION_LEVEL - 4)
    if MIGRATION_LEVEL != 4:
        out["search.migration_interval"] = max(1, round(10 * 2.0 ** (MIGRATION_LEVEL - 4)))
    if STEP_LEVEL != 4:
        out["mutation.perturb_scale"] = 0.1 * 2.0 ** (STEP_LEVEL - 4)
    return out
