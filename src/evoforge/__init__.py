"""evoforge: language models improve programs against trusted evaluators.

The user-facing contract is small: ``from evoforge import Candidate, Result`` in an evaluator,
``evoforge.run(task_dir)`` (or ``evoforge run TASK_DIR``) to evolve.
"""
from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["Candidate", "Result", "CallCost", "CandidateBudgetExceeded", "run", "resume",
           "load_task", "Engine", "__version__"]

# Interactive evaluation: counted queries to an oracle that stays in the evaluator's process.
_INTERACTIVE = ("Interaction", "InteractionError", "InteractionTimeout", "InvalidQuery",
                "QueryBudgetExceeded", "QueryRejected")
__all__ += list(_INTERACTIVE)


def __getattr__(name: str) -> Any:
    # Lazy: evaluators import `Candidate`/`Result` in a fresh process; keep that import cheap.
    if name in ("Candidate", "Result", "CandidateError", "CandidateTimeout", "CallCost",
                "CandidateBudgetExceeded"):
        from . import sandbox

        return getattr(sandbox, name)
    if name in _INTERACTIVE:
        from .sandbox import interactive

        return getattr(interactive, name)
    if name in ("run", "resume"):
        from .engine import session

        return getattr(session, name)
    if name == "load_task":
        from .task import load_task

        return load_task
    if name == "Engine":
        from .engine.core import Engine

        return Engine
    raise AttributeError(f"module 'evoforge' has no attribute {name!r}")
