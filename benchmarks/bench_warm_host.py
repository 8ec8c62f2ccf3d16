"""Per-evaluation overhead with and without warm evaluator hosts (issue 17, "Warm sandboxes").

    python benchmarks/bench_warm_host.py [--evals N] [--fm-evals N] [--calls N]
        [--levels landlock,bwrap] [--json]

Three workloads, each at every level asked for, each evaluated with a cold host (a fresh
interpreter imports evoforge and evaluate.py: ``evaluator.warm_host: false``) and a warm one (a
fork of a host that imported it once: sandbox/host_pool.py), measured round-robin so machine
noise spreads over both:

- ``tune_a``: examples/self_improve/numeric/tasks/tune_a, a trusted evaluator that never runs
  the candidate (evoforge.rsi.tuning.ConstantTuning reads its constants): the evaluation's wall
  time *is* its overhead. This is what each inner proposal of self-improvement pays.
- ``fmin``: examples/function_minimization (20 hidden instances, each a `candidate.interact`
  session of up to 100 queries, cold sandboxes at every level).
- ``call``: a one-line evaluator making `--calls` trivial ``candidate.call("f", i)`` each; the
  per-call number is the sandboxed call's wall time as the host measured it (spawn, interpreter
  or zygote fork, import, call, answer, kill), the issue's "≤ 30 ms per sandboxed candidate
  call" figure; ``host`` is the evaluation's wall time minus its calls (the host's overhead).

Printed: median and 90th percentile (ms) per (workload, level, host), and warm/cold ratios of
medians from this one run. Candidate calls are warm where the level supports it
(sandbox/warm.py: landlock) in both columns: only the host differs.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evoforge.sandbox import IsolationLevel, SandboxLimits, evaluate_code, host_pool, warm  # noqa: E402
from evoforge.sandbox.isolation import probe  # noqa: E402

TUNE = ROOT / "examples" / "self_improve" / "numeric" / "tasks" / "tune_a"
FMIN = ROOT / "examples" / "function_minimization"
CALLS_EVALUATOR = """\
from evoforge import Candidate, Result


def evaluate(candidate: Candidate, calls: int = 10) -> Result:
    for i in range(calls):
        assert candidate.call("f", i, timeout=30) == i + 1
    return Result(score=1.0)
"""
PROGRAM = "def f(x):\n    return x + 1\n"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _workloads(tmp: Path, calls: int) -> dict[str, tuple[Path, str, dict]]:
    task = tmp / "calls"
    task.mkdir()
    (task / "evaluate.py").write_text(CALLS_EVALUATOR)
    return {
        "tune_a": (TUNE, (TUNE / "initial.py").read_text(), {}),
        "fmin": (FMIN, (FMIN / "initial.py").read_text(), {}),
        "call": (task, PROGRAM, {"calls": calls}),
    }


def measure(levels: list[IsolationLevel], evals: dict[str, int], calls: int,
            warmup: int = 1) -> dict[tuple[str, str, str], dict[str, list[float]]]:
    limits = SandboxLimits()
    samples: dict[tuple[str, str, str], dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory(prefix="evoforge-bench-host-") as tmp:
        work = _workloads(Path(tmp), calls)
        for name, (task, code, args) in work.items():
            for i in range(warmup + evals[name]):
                for level in levels:
                    for mode in ("cold", "warm"):
                        start = time.perf_counter()
                        ev = evaluate_code(task, code, isolation=level.name.lower(), limits=limits,
                                           timeout=300, stage_args=args or None,
                                           warm_host=mode == "warm")
                        wall = time.perf_counter() - start
                        if ev.status not in ("ok", "invalid"):
                            raise RuntimeError(f"{name} {level.name} {mode}: {ev.status}: {ev.reason}")
                        if i < warmup:
                            continue
                        row = samples.setdefault((name, level.name.lower(), mode),
                                                 {"evaluation": [], "host": [], "per_call": []})
                        row["evaluation"].append(wall)
                        if ev.cost is not None and ev.cost.calls:
                            row["host"].append(wall - ev.cost.wall_s)
                            row["per_call"].append(ev.cost.wall_s / ev.cost.calls)
    host_pool.shutdown_all()
    warm.shutdown_all()
    return samples


def summarise(samples: dict[tuple[str, str, str], dict[str, list[float]]]) -> list[dict]:
    rows = []
    for (name, level, mode), kinds in samples.items():
        row: dict = {"workload": name, "level": level, "host": mode}
        cold = samples.get((name, level, "cold"))
        for kind, values in kinds.items():
            if not values:
                continue
            med = statistics.median(values)
            row[f"{kind}_median_ms"] = round(med * 1000, 1)
            row[f"{kind}_p90_ms"] = round(percentile(values, 90) * 1000, 1)
            if cold and cold.get(kind):
                row[f"{kind}_warm_over_cold"] = round(med / statistics.median(cold[kind]), 2)
        row["n"] = len(kinds["evaluation"])
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evals", type=int, default=20, help="tune_a and call evaluations per cell")
    parser.add_argument("--fm-evals", type=int, default=4, help="function_minimization evaluations per cell")
    parser.add_argument("--calls", type=int, default=10, help="candidate calls per 'call' evaluation")
    parser.add_argument("--levels", default="landlock,bwrap")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.getLogger("evoforge.sandbox").setLevel(logging.ERROR)
    wanted = [IsolationLevel.parse(n) for n in args.levels.split(",") if n.strip()]
    levels = [lv for lv in wanted if probe(lv)]
    missing = [lv.name.lower() for lv in wanted if lv not in levels]
    load = os.getloadavg()
    rows = summarise(measure(levels, {"tune_a": args.evals, "fmin": args.fm_evals,
                                      "call": args.evals}, args.calls))
    load_after = os.getloadavg()
    if args.json:
        print(json.dumps({"rows": rows, "unavailable": missing, "load": [load, load_after]}, indent=2))
        return
    print(f"per-evaluation overhead, cold vs warm evaluator host; {os.cpu_count()} CPUs, load "
          f"{load[0]:.1f} before / {load_after[0]:.1f} after; wall-clock ms, one run\n")
    header = (f"{'workload':8} {'level':8} {'host':4} | {'evaluation':>10} {'p90':>7} {'w/c':>5} | "
              f"{'host part':>9} {'w/c':>5} | {'per call':>8} {'p90':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        def cell(key: str, width: int) -> str:
            value = r.get(key)
            return f"{value:{width}.1f}" if isinstance(value, float) else " " * (width - 1) + "-"

        def ratio(key: str) -> str:
            value = r.get(key)
            return f"{value:5.2f}" if isinstance(value, float) and r["host"] == "warm" else "     "

        print(f"{r['workload']:8} {r['level']:8} {r['host']:4} | {cell('evaluation_median_ms', 10)} "
              f"{cell('evaluation_p90_ms', 7)} {ratio('evaluation_warm_over_cold')} | "
              f"{cell('host_median_ms', 9)} {ratio('host_warm_over_cold')} | "
              f"{cell('per_call_median_ms', 8)} {cell('per_call_p90_ms', 6)}")
    for name in missing:
        print(f"{name}: not available on this machine")
    print("\nhost part: evaluation wall minus the candidate calls' wall (tune_a makes no call: "
          "its whole evaluation is overhead)")


if __name__ == "__main__":
    main()
