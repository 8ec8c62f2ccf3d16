"""Contest problems written for evoforge; each is a `Problem` subclass with no state."""
from __future__ import annotations

from evoforge.contest.problems.placement import Placement
from evoforge.contest.problems.routing import Routing

PROBLEMS = {"routing": Routing, "placement": Placement}

__all__ = ["PROBLEMS", "Placement", "Routing"]
