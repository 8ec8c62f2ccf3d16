"""Small task folders and a scripted model used by evoforge's own tests and benchmarks.

Kept importable (not in a conftest) so that any test folder or benchmark can use them."""
from __future__ import annotations

import re
import textwrap
from pathlib import Path

VALUE_TASK_INITIAL = '''\
"""A toy program whose score is VALUE."""


# EVOLVE-BLOCK-START
def value():
    VALUE = 1.0
    return VALUE
# EVOLVE-BLOCK-END
'''

VALUE_TASK_EVALUATE = '''\
import math
from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    v = candidate.call("value", timeout=10)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        return Result.invalid(f"value() returned {type(v).__name__}")
    if not math.isfinite(v):
        return Result.invalid("value() is not finite")
    if v > 1000:
        return Result.invalid("value() above 1000")
    return Result(score=float(v), feedback=f"value {v}")
'''


def write_task(root: Path, *, initial: str = VALUE_TASK_INITIAL, evaluate: str = VALUE_TASK_EVALUATE,
               yaml: str = "name: value_task\ndescription: Make value() return a larger number.\n") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "task.yaml").write_text(textwrap.dedent(yaml))
    (root / "initial.py").write_text(initial)
    (root / "evaluate.py").write_text(evaluate)
    return root



def increment_responder(request: dict) -> str:
    """Reply with a SEARCH/REPLACE edit that adds one to the VALUE seen in the prompt."""
    text = "\n".join(m.get("content") or "" for m in request.get("messages", []))
    found = re.findall(r"VALUE = ([0-9.]+)", text)
    if not found:
        return "I cannot help with that."
    current = found[0]  # the parent comes first in the prompt
    new = float(current) + 1.0 + (request.get("seed") or 0) % 7 * 1e-3
    return (
        "<<<<<<< SEARCH\n"
        f"    VALUE = {current}\n"
        "=======\n"
        f"    VALUE = {new}\n"
        ">>>>>>> REPLACE\n"
    )
