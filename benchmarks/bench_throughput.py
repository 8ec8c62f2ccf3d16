"""Evaluation throughput and engine overhead as workers grow (1, 2, 4, … up to the cores).

Each cell is a whole run through the real runner (`run_workers`): an instant scripted model
over a real local socket, the trivial task, SQLite storage, and one of three executors:

- ``null``  evaluation is instant (the score is read from the code): only the engine is measured,
  so proposals/s here is the engine's ceiling and ``engine ms`` its cost per proposal;
- ``local`` real sandboxed evaluations in subprocesses (the default executor);
- ``ray``   the same evaluations as Ray tasks on a local cluster started once, before timing.

``ask ms`` is select + prompt + model call + edit + novelty check + store; ``tell ms`` is store +
archive/bandit update; ``engine ms`` is their sum per proposal. Run:
``python benchmarks/bench_throughput.py [--workers 1,2,4] [--proposals 40] [--executors null,local,ray]``.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Timer, increment_responder, make_engine, scratch, table, write_task  # noqa: E402


class NullExecutor:
    """Instant evaluation: the score is the VALUE written in the code (no process is started)."""

    name = "null"

    def evaluate(self, request: Any) -> Any:
        from evoforge.sandbox import Evaluation, Result

        found = re.findall(r"VALUE = ([-0-9.e]+)", request.code)
        if not found:
            return Evaluation("invalid", reason="no VALUE")
        return Evaluation("ok", result=Result(score=float(found[0]), feedback="instant"))

    def close(self) -> None:
        pass


def default_workers() -> list[int]:
    cores = os.cpu_count() or 1
    out, w = [], 1
    while w < cores:
        out.append(w)
        w *= 2
    return out + [cores]


def one_run(kind: str, workers: int, proposals: int, executor: Any, base_url: str) -> list[Any]:
    """Run `proposals` model proposals with `workers` threads; return one table row."""
    from evoforge.engine.runner import run_workers

    root = scratch("evoforge-bench-")
    task = write_task(root / "task")
    overrides = {
        "llm.models": [f"openai/scripted@{base_url}"], "llm.concurrency": max(1, workers),
        "mutation.weights": {"diff": 1.0}, "budget.llm_calls": proposals, "evaluator.workers": workers,
    }
    engine = make_engine(task, f"sqlite:///{root / 'run.db'}", overrides, run_name=f"{kind}-{workers}")
    timer = Timer()
    engine.ask, engine.tell = timer.wrap("ask", engine.ask), timer.wrap("tell", engine.tell)
    original = executor.evaluate
    executor.evaluate = timer.wrap("evaluate", original)
    started = time.perf_counter()
    try:
        run_workers(engine, executor, workers)
    finally:
        executor.evaluate = original
    wall = time.perf_counter() - started
    done = engine.storage.count_attempts(engine.run.id)
    engine.storage.close()
    engine_ms = (timer.total("ask") + timer.total("tell")) / max(1, done)
    return [kind, workers, done, wall, done / wall, timer.mean("evaluate"), timer.pct("evaluate", 0.95),
            timer.mean("ask"), timer.mean("tell"), engine_ms]


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", default=",".join(map(str, default_workers())), help="comma-separated worker counts")
    p.add_argument("--proposals", type=int, default=40, help="model proposals per run (real evaluations)")
    p.add_argument("--null-proposals", type=int, default=200, help="model proposals per run with the null executor")
    p.add_argument("--executors", default="null,local,ray", help="any of null, local, ray")
    args = p.parse_args(argv)
    from evoforge.executors.base import create_executor
    from evoforge.testing.openai_server import ScriptedOpenAIServer

    workers = [int(w) for w in args.workers.split(",") if w.strip()]
    rows: list[list[Any]] = []
    with ScriptedOpenAIServer(responder=increment_responder) as server:
        for kind in [k.strip() for k in args.executors.split(",") if k.strip()]:
            try:
                executor = NullExecutor() if kind == "null" else create_executor(kind)
            except Exception as exc:  # e.g. ray not installed: say so and go on
                rows.append([kind, "-", 0, float("nan"), float("nan"), float("nan"), float("nan"),
                             float("nan"), float("nan"), float("nan")])
                print(f"{kind}: skipped ({exc})", file=sys.stderr)
                continue
            try:
                if kind == "ray":  # start the workers before timing (the first tasks spawn processes)
                    warm = write_task(scratch("evoforge-bench-warm-") / "task")
                    from evoforge.executors.base import EvaluationRequest

                    for _ in range(2):
                        executor.evaluate(EvaluationRequest(task_path=str(warm), code=(warm / "initial.py").read_text()))
                n = args.null_proposals if kind == "null" else args.proposals
                for w in workers:
                    rows.append(one_run(kind, w, n, executor, server.base_url))
            finally:
                executor.close()
    header = ["executor", "workers", "attempts", "wall s", "attempts/s", "eval ms", "eval p95",
              "ask ms", "tell ms", "engine ms"]
    text = table(f"Throughput with an instant scripted model ({os.cpu_count()} cores)", header, rows)
    print(text)
    return text


if __name__ == "__main__":
    main()
