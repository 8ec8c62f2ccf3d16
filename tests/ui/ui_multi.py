"""Run databases for the dashboard's many-objective and multi-file views.

The front comes from a real run (`evoforge.run`, zero-cost operators, sandboxed evaluations) of a
task with three objectives. The multi-file programs are attempts saved into a real SQLite
storage through the `Storage` protocol, each program a `bundle.pack` of a small package, so
the file tree and per-file diffs are tested without depending on folder tasks.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import evoforge
from evoforge.bundle import pack
from evoforge.program import Attempt, AttemptStatus
from evoforge.storage import open_storage
from evoforge.testing.tasks import write_task

NO_MODEL = "openai/none@http://127.0.0.1:9/v1"   # never called: operators only

MO_INITIAL = '''\
"""Two knobs: A buys quality at a cost, B lowers the cost."""


# EVOLVE-BLOCK-START
def knobs():
    A = 1.0
    B = 2.0
    return A, B
# EVOLVE-BLOCK-END
'''

MO_EVALUATE = '''\
import math
from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    a, b = candidate.call("knobs", timeout=10)
    quality = 1.0 - math.exp(-abs(a))
    cost = a * a + 1.0 / (1.0 + abs(b))
    latency = cost ** 1.5     # grows with the cost: the same dominance as (quality, cost), another axis
    return Result(score=quality - cost, metrics={"quality": quality, "cost": cost, "latency": latency})
'''

MO_YAML = """\
name: mo3
description: Trade quality against cost and latency.
objectives:
  - {name: quality, direction: maximize, reference: 0.0}
  - {name: cost, direction: minimize, reference: 50.0}
  - {name: latency, direction: minimize, reference: 400.0}
search: {parent_selection: pareto, islands: 2}
"""


def many_objective_run(root: Path, proposals: int = 14) -> Path:
    """A real three-objective run; returns its folder."""
    task = write_task(root / "mo-task", initial=MO_INITIAL, evaluate=MO_EVALUATE, yaml=MO_YAML)
    evoforge.run(task, llm=NO_MODEL, run_dir=root / "mo", progress=False,
                 overrides={"mutation.weights": {"perturb": 1.0}, "budget.llm_calls": None, "budget.proposals": proposals})
    return root / "mo"


#: A file whose *name and text* try to inject markup: the page must show both as text.
HOSTILE_PATH = "solver/<img src=x onerror=window.__pwned=1>.py"
HOSTILE_TEXT = "# </pre><script>window.__pwned = 2</script><b onmouseover=window.__pwned=3>bold</b>\nX = 1\n"

PARENT_FILES = {
    "solver/__init__.py": "from .heuristic import score\n",
    "solver/heuristic.py": "def score(x):\n    return x * 2\n",
    "solver/structure.py": "class Heap:\n    def __init__(self):\n        self.items = []\n",
    "README.md": "A solver package.\n",
    HOSTILE_PATH: HOSTILE_TEXT,
}
CHILD_FILES = {**{k: v for k, v in PARENT_FILES.items() if k != "README.md"},
               "solver/heuristic.py": "def score(x):\n    return x * 3 + 1\n",
               "solver/extra/tuning.py": "WEIGHT = 0.5"}   # added, without a final newline


@dataclass
class BundleRun:
    db: Path
    run_id: str
    parent: Attempt
    child: Attempt
    damaged: Attempt
    single: Attempt


def bundle_run(root: Path) -> BundleRun:
    """A storage holding folder programs: an initial package, an edit of it (one file modified, one
    added, one removed, the rest unchanged), an attempt whose bundle text is damaged (an unsafe
    path), and a single-file program in the same run for contrast."""
    root.mkdir(parents=True, exist_ok=True)
    db = root / "run.db"
    store = open_storage(str(db))
    try:
        run = store.create_run("folders", {"name": "folder_task", "direction": "maximize"}, str(root))
        parent = Attempt(run_id=run.id, code=pack(PARENT_FILES), status=AttemptStatus.OK, score=1.0, proposal_index=0,
                         feedback="initial package")
        child = Attempt(run_id=run.id, code=pack(CHILD_FILES), status=AttemptStatus.OK, score=2.0, proposal_index=1,
                        parent_id=parent.id, mutation="diff", generation=1, feedback="heuristic retuned")
        damaged = Attempt(run_id=run.id, code="=== evoforge-file: ../outside.py ===\nX = 1\n", status=AttemptStatus.APPLY_FAILED,
                          proposal_index=2, parent_id=child.id, mutation="diff", reason="the edit named a file outside the folder")
        single = Attempt(run_id=run.id, code="X = 1\n", status=AttemptStatus.OK, score=0.5, proposal_index=3,
                         parent_id=None, mutation="initial")
        for a in (parent, child, damaged, single):
            store.save_attempt(a)
    finally:
        store.close()
    return BundleRun(db, run.id, parent, child, damaged, single)
