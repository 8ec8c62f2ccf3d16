"""Shared by the example-task tests (a plain module: `conftest` names collide across folders)."""
from __future__ import annotations

from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def initial(task: str) -> str:
    """The initial program of an example task, as the engine loads it."""
    from evoforge.task import load_task
    return load_task(EXAMPLES / task).initial_code
