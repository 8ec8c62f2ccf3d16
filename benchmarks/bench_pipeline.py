"""How busy the model endpoint is kept: a scripted server answering every request after a fixed
latency, whole runs through `evoforge.run` (real subprocess evaluations of the trivial task,
SQLite), the server logging when each request starts and ends.

Two shares per run, both over the run's whole wall time (start-up and the initial evaluation
included):

- ``busy %``     the share of the wall time with at least one request in flight;
- ``in flight %`` the mean number of requests in flight, as a share of the configured concurrency;
- ``steady in flight %`` the same from the first request's start to the last one's end (what is
  left when start-up, the initial program's evaluation and the last evaluations are taken out).

The OpenAI SDK is imported and one short run made before timing (about 2 s and 0.3 s once per
process, nothing to do with the pipeline). ``proposals`` counts model edits and the zero-cost operators that filled idle
evaluation slots.

Issue 17's target, with cheap evaluations: busy ≥ 95 % and in flight ≥ 90 %. Before the
decoupled pipeline (each worker: ask → model → evaluate → tell in turn) `--workers 4` with the
default ``llm.concurrency: 1`` made 24 calls in 24.2 s (ideal 6 s), and with
``llm.concurrency=4`` the mean in flight was 75 % of the workers. Run:
``python benchmarks/bench_pipeline.py [--latency 1.0] [--calls 24] [--workers 4]``.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import increment_responder, scratch, table, write_task  # noqa: E402


class TimedResponder:
    """Answers after a fixed latency and logs (start, end) of every request."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.spans: list[tuple[float, float]] = []
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> str:
        start = time.monotonic()
        time.sleep(self.latency)
        reply = increment_responder(request)
        with self._lock:
            self.spans.append((start, time.monotonic()))
        return reply


def shares(spans: list[tuple[float, float]], t0: float, t1: float, concurrency: int) -> tuple[float, float]:
    """(share of [t0, t1] with ≥ 1 request in flight, mean in flight / concurrency)."""
    wall = max(1e-9, t1 - t0)
    busy, end = 0.0, t0
    for s, e in sorted(spans):
        s, e = max(s, end), min(e, t1)
        if e > s:
            busy += e - s
            end = e
    total = sum(min(e, t1) - max(s, t0) for s, e in spans if e > t0 and s < t1)
    return busy / wall, total / wall / concurrency


def one_run(workers: int, concurrency: int | None, calls: int, latency: float, weights: dict[str, float] | None) -> list[Any]:
    import evoforge
    from evoforge.testing.openai_server import ScriptedOpenAIServer

    root = scratch("evoforge-bench-pipeline-")
    task = write_task(root / "task")
    responder = TimedResponder(latency)
    overrides: dict[str, Any] = {"mutation.diff_retries": 0}
    if concurrency is not None:
        overrides["llm.concurrency"] = concurrency
    if weights:
        overrides["mutation.weights"] = weights
    with ScriptedOpenAIServer(responder=responder) as srv:
        t0 = time.monotonic()
        result = evoforge.run(task, llm=f"openai/scripted@{srv.base_url}", budget=calls, workers=workers,
                              run_dir=root / "run", overrides=overrides)
        t1 = time.monotonic()
    effective = concurrency if concurrency is not None else workers
    busy, in_flight = shares(responder.spans, t0, t1, effective)
    spans = responder.spans
    _, steady = shares(spans, min(s for s, _ in spans), max(e for _, e in spans), effective) if spans else (0, 0)
    label = "default" if concurrency is None else str(concurrency)
    return [workers, label, "default" if not weights else "diff only", len(responder.spans), t1 - t0,
            calls * latency / effective, 100 * busy, 100 * in_flight, 100 * steady, result.stats.get("proposals", 0)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latency", type=float, default=1.0, help="seconds the server takes per request")
    ap.add_argument("--calls", type=int, default=48, help="model-call budget of each run")
    ap.add_argument("--workers", type=int, default=4)
    args = ap.parse_args(argv)
    w = args.workers
    try:
        import openai  # noqa: F401,PLC0415  (a once-per-process cost, kept out of the first run's time)
    except ImportError:
        pass
    # One short untimed run first: the first run in a process pays the engine's lazy imports and the
    # sandbox's zygote start (~0.3 s), which would otherwise be charged to whichever row runs first.
    one_run(w, None, 2, 0.05, None)
    cells = [(w, None, None), (w, None, {"diff": 1.0}), (w, 1, None), (1, None, None)]
    rows = [one_run(workers, conc, args.calls, args.latency, weights) for workers, conc, weights in cells]
    print(table(f"Model endpoint kept busy ({args.latency:.1f} s per request, {args.calls} calls, cheap evaluations)",
                ["workers", "llm.concurrency", "weights", "calls", "wall s", "ideal s", "busy %", "in flight %",
                 "steady in flight %", "proposals"], rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
