"""Shared pieces of the benchmarks: a trivial task, an instant scripted model, engine set-up
with timing hooks, an optional throwaway PostgreSQL server, and plain-text tables.

Why a trivial task and a scripted model: the benchmarks measure evoforge (selection, prompt,
edit, novelty, storage, dispatch), so the model answers instantly over a real local socket and
the evaluator does almost nothing; what remains is the engine and the sandbox's process cost.
"""
from __future__ import annotations

import re
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]

INITIAL = '''\
"""A toy program whose score is VALUE."""


# EVOLVE-BLOCK-START
def value():
    VALUE = 1.0
    return VALUE
# EVOLVE-BLOCK-END
'''

EVALUATE = '''\
from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    v = candidate.call("value", timeout=10)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or v != v or abs(v) > 1e12:
        return Result.invalid(f"value() returned {v!r:.40}")
    return Result(score=float(v), feedback=f"value {v}")
'''


def write_task(root: Path) -> Path:
    """The trivial task: maximise the number value() returns."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "task.yaml").write_text("name: bench_value\ndescription: Make value() return a larger number.\n")
    (root / "initial.py").write_text(INITIAL)
    (root / "evaluate.py").write_text(EVALUATE)
    return root


def increment_responder(request: dict) -> str:
    """An instant model: a SEARCH/REPLACE edit adding one to the VALUE it sees first."""
    text = "\n".join(m.get("content") or "" for m in request.get("messages", []))
    found = re.findall(r"VALUE = ([0-9.]+)", text)
    if not found:
        return "no VALUE here"
    new = float(found[0]) + 1.0 + (request.get("seed") or 0) % 997 * 1e-4
    return f"<<<<<<< SEARCH\n    VALUE = {found[0]}\n=======\n    VALUE = {new}\n>>>>>>> REPLACE\n"


@dataclass
class Timer:
    """Thread-safe accumulation of durations by name (ms lists)."""

    samples: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def wrap(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                with self.lock:
                    self.samples.setdefault(name, []).append((time.perf_counter() - start) * 1000)
        return timed

    def mean(self, name: str) -> float:
        xs = self.samples.get(name, [])
        return statistics.fmean(xs) if xs else float("nan")

    def pct(self, name: str, q: float) -> float:
        xs = sorted(self.samples.get(name, []))
        return xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

    def total(self, name: str) -> float:
        return sum(self.samples.get(name, []))


def make_engine(task_dir: Path, storage_url: str, overrides: dict[str, Any], run_name: str = "bench") -> Any:
    """An Engine on a fresh run, built the way `evoforge.engine.session` builds one."""
    from evoforge.engine.core import Engine
    from evoforge.engine.session import build_providers
    from evoforge.storage import open_storage
    from evoforge.task import load_task

    task = load_task(task_dir, overrides)
    store = open_storage(storage_url)
    info = store.create_run(run_name, task.config.to_dict(), str(task_dir))
    providers, chooser = build_providers(task.config.llm.models, task.config.llm, None)
    return Engine(task, store, info, providers, model_chooser=chooser)


def start_postgres() -> tuple[Any, Callable[[], str]] | None:
    """A throwaway PostgreSQL server (tests/storage/pg_server.py), or None when not installed."""
    sys.path.insert(0, str(ROOT / "tests" / "storage"))
    try:
        import pg_server  # noqa: PLC0415
        import psycopg  # noqa: F401,PLC0415
        import sqlalchemy  # noqa: F401,PLC0415
    except ImportError:
        return None
    bindir = pg_server.find_bindir()
    if bindir is None:
        return None
    server = pg_server.PostgresServer(bindir).start()
    return server, server.create_database


def scratch(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))


def table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table (numbers right-aligned), easy to paste into an issue."""
    def fmt(x: Any) -> str:
        if isinstance(x, float):
            return "n/a" if x != x else (f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.3g}" if abs(x) < 1 else f"{x:.1f}")
        return str(x)

    cells = [[fmt(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(header)]
    line = "  ".join(h.rjust(w) for h, w in zip(header, widths))
    out = [title, line, "-" * len(line)]
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(out) + "\n"
