"""`evoforge.llm.Bandit`, kept where it has always been imported from: the class is
`evoforge.search.bandit.Bandit`, the one bandit that chooses models, kinds of proposal and prompts.
"""
from __future__ import annotations

from ..search.bandit import METHODS, Bandit

__all__ = ["METHODS", "Bandit"]
