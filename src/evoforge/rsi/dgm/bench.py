"""Coding benchmarks for the DGM mode: buggy modules, statements, and hidden tests kept as data.

A benchmark folder holds ``bench.yaml`` (name, ``stage1`` task names, ``threshold``) and
``tasks/NAME/`` with ``STATEMENT.md``, one module and ``hidden_tests.json``:

    {"module": "stats.py", "cases": [
        {"call": "median", "args": [[1, 2]], "expect": 1.5, "approx": 1e-9},
        {"call": "median", "args": [[]], "raises": "ValueError"},
        {"exec": "c = LRUCache(2)\\n...\\nresult = c.get('a')", "expect": null}]}

Why data and not a test file: the expected values never enter any process that runs agent-written
code. The edited module runs in a fresh sandbox (never the agent's) with only the case *inputs*;
it returns plain values, and the comparison with ``expect`` happens here, in the trusted process.
The agent's sandbox only ever receives `visible_files` (statement + module).
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ...errors import UserError
from ...sandbox import Candidate, CandidateError, SandboxLimits
from ...sandbox.isolation import IsolationLevel, landlock_paths, python_paths

SHIPPED = Path(__file__).resolve().parents[4] / "examples"  # a source checkout's examples/

RUNNER = '''

# ---- appended by evoforge's benchmark runner (runs the case inputs; never sees the answers) ----
def _evoforge_plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (list, tuple)):
        return [_evoforge_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _evoforge_plain(v) for k, v in value.items()}
    return {"__repr__": repr(value)[:200]}


def _evoforge_run_cases(cases):
    out = []
    for case in cases:
        try:
            if "exec" in case:
                namespace = dict(globals())
                exec(case["exec"], namespace)
                value = namespace.get("result")
            else:
                value = globals()[case["call"]](*case.get("args", []), **case.get("kwargs", {}))
            out.append({"ok": True, "value": _evoforge_plain(value)})
        except Exception as exc:
            out.append({"ok": False, "error": type(exc).__name__})
    return out
'''


@dataclass
class BenchTask:
    """One task; `cases` are hidden and stay in the trusted process."""

    name: str
    folder: Path
    module: str
    statement: str
    code: str
    cases: list[dict[str, Any]]


@dataclass
class Bench:
    name: str
    root: Path
    tasks: list[BenchTask]
    stage1: list[str]
    threshold: float

    def task(self, name: str) -> BenchTask:
        return next(t for t in self.tasks if t.name == name)


@dataclass
class TestOutcome:
    """Hidden-test result of one task: counts only (the expected values are not repeated)."""

    task: str
    passed: int
    total: int
    note: str = ""

    @property
    def solved(self) -> bool:
        return self.total > 0 and self.passed == self.total


def resolve_bench(spec: str) -> Path:
    """A benchmark folder given as a path or as the name of a shipped one (``coding_bench``)."""
    path = Path(spec).expanduser()
    if (path / "bench.yaml").is_file():
        return path.resolve()
    shipped = SHIPPED / spec
    if (shipped / "bench.yaml").is_file():
        return shipped.resolve()
    raise UserError(f"no benchmark {spec!r}: give a folder holding bench.yaml (e.g. examples/coding_bench)")


def load_bench(spec: str) -> Bench:
    root = resolve_bench(spec)
    try:
        meta = yaml.safe_load((root / "bench.yaml").read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise UserError(f"{root / 'bench.yaml'}: not valid YAML: {exc}") from None
    tasks = []
    for folder in sorted(p for p in (root / "tasks").iterdir() if p.is_dir()):
        try:
            hidden = json.loads((folder / "hidden_tests.json").read_text(encoding="utf-8"))
            module = hidden["module"]
            tasks.append(BenchTask(folder.name, folder, module, (folder / "STATEMENT.md").read_text(encoding="utf-8"),
                                   (folder / module).read_text(encoding="utf-8"), list(hidden["cases"])))
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"benchmark task {folder}: {exc}") from None
    if not tasks:
        raise UserError(f"benchmark {root} has no tasks under tasks/")
    names = [t.name for t in tasks]
    stage1 = [n for n in meta.get("stage1", names[:3]) if n in names] or names[:3]
    return Bench(str(meta.get("name", root.name)), root, tasks, stage1, float(meta.get("threshold", 0.3)))


def check_hidden_tests_unreachable(bench: Bench, level: IsolationLevel) -> None:
    """Refuse a benchmark whose hidden tests lie under a folder the sandbox lets agents read
    (bwrap: what it mounts; landlock: what its rules allow), e.g. inside site-packages."""
    if level == IsolationLevel.BWRAP:
        mounted = python_paths() + ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc"]
    elif level == IsolationLevel.LANDLOCK:
        allowed = landlock_paths()
        mounted = allowed["rx"] + allowed["r"]
    else:
        return  # weaker levels see the whole file system; the caller has already said so aloud
    root = str(bench.root)
    for m in mounted:
        if root == m or root.startswith(m.rstrip("/") + "/"):
            raise UserError(f"benchmark {root} lies under {m}, which the sandbox mounts read-only: agents could "
                            "read its hidden tests. Copy the benchmark somewhere else (e.g. your home folder).")


def visible_files(task: BenchTask) -> dict[str, str]:
    """What the agent's sandbox receives for `task`: the statement and the buggy module only."""
    return {"STATEMENT.md": task.statement, task.module: task.code}


def _same(got: Any, want: Any, tol: float | None) -> bool:
    if isinstance(want, bool) or isinstance(got, bool):
        return type(got) is type(want) and got == want
    if isinstance(want, (int, float)) and isinstance(got, (int, float)):
        if tol is not None:
            return math.isfinite(got) and abs(got - want) <= tol
        return got == want
    if isinstance(want, list) and isinstance(got, list):
        return len(got) == len(want) and all(_same(g, w, tol) for g, w in zip(got, want))
    if isinstance(want, dict) and isinstance(got, dict):
        return set(got) == set(want) and all(_same(got[k], want[k], tol) for k in want)
    return type(got) is type(want) and got == want


def run_hidden_tests(task: BenchTask, module_code: str, *, level: IsolationLevel, timeout: float = 20.0) -> TestOutcome:
    """Run the hidden cases against `module_code` in a fresh sandbox; compare here."""
    inputs = [{k: v for k, v in c.items() if k in ("call", "args", "kwargs", "exec")} for c in task.cases]
    limits = SandboxLimits(memory_mb=1024, max_processes=16, file_size_mb=16)
    code = module_code if module_code.endswith("\n") else module_code + "\n"
    with Candidate.create(code + RUNNER, filename=task.module, isolation=level, limits=limits) as cand:
        try:
            answers = cand.call("_evoforge_run_cases", inputs, timeout=timeout)
        except CandidateError as exc:
            return TestOutcome(task.name, 0, len(task.cases), exc.summary[:300])
    if not isinstance(answers, list) or len(answers) != len(task.cases):
        return TestOutcome(task.name, 0, len(task.cases), "the test runner's answer was malformed")
    passed = 0
    for case, answer in zip(task.cases, answers):
        if not isinstance(answer, dict):
            continue
        if "raises" in case:
            passed += answer.get("ok") is False and answer.get("error") == case["raises"]
        elif answer.get("ok") is True:
            passed += _same(answer.get("value"), case.get("expect"), case.get("approx"))
    return TestOutcome(task.name, int(passed), len(task.cases))
