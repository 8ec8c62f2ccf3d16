"""Real run databases for the dashboard tests: made by evoforge.run itself (no hand-written rows),
against a scripted OpenAI-protocol server so model usage, cost and the model bandit are real."""
from __future__ import annotations

import random
import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import evoforge
from evoforge.storage import open_storage

INITIAL = '''\
"""A toy program: the score is VALUE, plus a small bonus for a balanced SPREAD."""


# EVOLVE-BLOCK-START
def value():
    VALUE = 1.0
    SPREAD = 0.5
    return VALUE, SPREAD
# EVOLVE-BLOCK-END
'''

EVALUATE = '''\
import math
from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    out = candidate.call("value", timeout=10)
    if not isinstance(out, list) or len(out) != 2:
        return Result.invalid(f"value() returned {out!r}, expected (VALUE, SPREAD)")
    v, spread = out
    if not all(isinstance(x, (int, float)) and math.isfinite(x) for x in (v, spread)):
        return Result.invalid("value() returned a non-finite number")
    if v > 1000:
        return Result.invalid(f"VALUE {v} is above 1000")
    print(f"value={v} spread={spread}")
    score = float(v) + 0.1 * math.exp(-abs(spread - 1.0))
    return Result(score=score, feedback=f"VALUE {v}, SPREAD {spread}", private_score=0.9 * score,
                  metrics={"value": float(v), "spread": float(spread)})
'''


def write_task(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "task.yaml").write_text(textwrap.dedent("""\
        name: ui_value
        description: Make value() return a larger VALUE, keeping SPREAD near 1.
        direction: maximize
        evaluator: {timeout: 30}
        """))
    (root / "initial.py").write_text(INITIAL)
    (root / "evaluate.py").write_text(EVALUATE)
    return root


def make_responder(seed: int = 0) -> Callable[[dict], str]:
    """Mostly good SEARCH/REPLACE edits; sometimes a reply without an edit, sometimes a bad one."""
    rng = random.Random(seed)

    def respond(request: dict[str, Any]) -> str:
        text = "\n".join(m.get("content") or "" for m in request.get("messages", []))
        found = re.findall(r"VALUE = ([-0-9.e]+)", text)
        spreads = re.findall(r"SPREAD = ([-0-9.e]+)", text)
        roll = rng.random()
        if not found or not spreads or roll < 0.15:
            return "I am not sure what to change here."
        current = found[0]
        if roll < 0.35:
            return f"<<<<<<< SEARCH\n    VALUE = {current}\n=======\n    VALUE = float('nan')\n>>>>>>> REPLACE\n"
        new = round(float(current) + rng.uniform(-0.5, 2.0), 3)
        spread = round(rng.uniform(0.0, 2.0), 2)
        return (f"<<<<<<< SEARCH\n    VALUE = {current}\n=======\n    VALUE = {new}\n>>>>>>> REPLACE\n"
                f"<<<<<<< SEARCH\n    SPREAD = {spreads[0]}\n=======\n    SPREAD = {spread}\n>>>>>>> REPLACE\n")

    return respond


def llm_run(task: Path, run_dir: Path, base_url: str, *, calls: int = 14, seed: int = 0, **overrides: Any) -> Any:
    """A run with two scripted models (a bandit over them), priced so that cost is non-zero."""
    ov: dict[str, Any] = {
        "llm.prices": {"alpha": [1.0, 2.0], "beta": [3.0, 6.0]},
        "mutation.weights": {"diff": 1.0, "full": 0.2, "perturb": 0.6, "swap": 0.2},
        "budget.llm_calls": calls, "search.islands": 2, "search.migration_interval": 6, "seed": seed,
    }
    ov.update(overrides)
    return evoforge.run(task, llm=[f"openai/alpha@{base_url}", f"openai/beta@{base_url}"], run_dir=run_dir, overrides=ov)


def operator_run(run_dir: Path, proposals: int = 30, **overrides: Any) -> Any:
    """The toy task with zero-cost operators only: one cheap sandboxed call per evaluation (the
    shipped examples now spend seconds of CPU per evaluation, which a dashboard test does not need)."""
    ov: dict[str, Any] = {"mutation.weights": {"perturb": 1.0, "swap": 0.5}, "budget.llm_calls": None, "budget.proposals": proposals}
    ov.update(overrides)
    root = write_task(run_dir.parent / f"{run_dir.name}-task")
    return evoforge.run(root, llm="openai/none@http://127.0.0.1:9/v1", run_dir=run_dir, overrides=ov)


def add_events(db: Path, run_id: str) -> None:
    """Events that later subsystems (safety, meta-scratchpad) will write, so their views have data."""
    store = open_storage(str(db))
    try:
        attempts = store.attempts(run_id, with_code=False)
        store.add_event(run_id, "insight", {"text": "Raising VALUE in small steps works better than big jumps.", "index": 3})
        store.add_event(run_id, "insight", {"text": "SPREAD near 1.0 adds a small bonus; keep it there.", "index": 9})
        store.add_event(run_id, "alert", {"message": "evaluator output looks tampered with", "attempt_id": attempts[-1].id})
        store.add_event(run_id, "quarantine", {"reason": "score jumped 10x in one edit", "attempt_id": attempts[-2].id})
    finally:
        store.close()
