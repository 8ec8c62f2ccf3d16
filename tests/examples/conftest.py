"""Fixtures for the example-task tests: run a task's real evaluator on a program text."""
from __future__ import annotations

from pathlib import Path

import pytest
from example_helpers import EXAMPLES

from evoforge.sandbox import Evaluation, evaluate_code
from evoforge.task import load_task


@pytest.fixture
def evaluate():
    """evaluate(task, code, **kw) -> Evaluation, through the trusted evaluator host."""
    def run(task: str | Path, code: str, **kw) -> Evaluation:
        folder = Path(task) if Path(task).is_absolute() else EXAMPLES / task
        program = load_task(folder).config.program
        return evaluate_code(folder, code, program_filename=program, timeout=300, **kw)
    return run
