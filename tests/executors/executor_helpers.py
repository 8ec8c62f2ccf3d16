"""Helpers for the executor tests (a module of its own: `from conftest import …` is ambiguous
when several test folders have a conftest.py)."""
from __future__ import annotations

import textwrap
from pathlib import Path

CANDIDATE = "# EVOLVE-BLOCK-START\ndef value():\n    VALUE = 1.0\n    return VALUE\n# EVOLVE-BLOCK-END\n"


def make_task(root: Path, evaluate_body: str, *, initial: str = CANDIDATE, yaml: str = "") -> Path:
    """A task folder whose evaluate.py runs `evaluate_body` (indented into evaluate())."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "task.yaml").write_text(yaml or f"name: {root.name}\ndescription: test task\n")
    (root / "initial.py").write_text(initial)
    body = textwrap.indent(textwrap.dedent(evaluate_body).strip("\n"), "    ")
    (root / "evaluate.py").write_text(
        "import os, sys, time, signal\nfrom evoforge import Candidate, Result\n\n\n"
        f"def evaluate(candidate: Candidate) -> Result:\n{body}\n"
    )
    return root
