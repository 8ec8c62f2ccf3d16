"""Isolation overhead per evaluation, for each sandbox level (none / unshare / landlock / bwrap),
cold and warm.

    python benchmarks/bench_isolation.py [--calls N] [--evals N]
        [--levels bwrap,landlock,unshare,none] [--modes cold,warm] [--json]

Two numbers per level, each as median and 90th percentile of wall-clock seconds measured by the
parent (what an evaluation really costs):

- ``call``: one trivial ``candidate.call("f", x)`` on an existing Candidate: spawn the sandbox,
  start the interpreter, import the program, call, send the answer back as JSON, kill the tree.
- ``evaluate``: one whole ``evaluate_code`` with a one-call evaluator: the evaluator host
  process (imports evoforge, loads evaluate.py), a fresh Candidate folder, the call, cleanup.

Each level is measured ``cold`` (every call starts its sandbox and interpreters from scratch)
and, where the level supports it (`evoforge.sandbox.warm`: landlock), ``warm`` (calls forked
from a pre-started zygote; evaluator hosts adopt this process's zygotes). ``warm/cold`` is the
ratio of medians of one run. The ``+ vs none`` columns are the isolation overhead: the
difference of medians to cold plain subprocesses on the same machine. Levels and modes are
measured round-robin (one sample of each in turn) so that machine noise spreads evenly. Levels
that do not work here are listed as such.
landlock costs one more interpreter start than unshare (the trusted launcher, ``python -I -S
launch.py``, which applies Landlock and seccomp and then execs the candidate's command); the
line under the table says which Landlock ABI and namespaces were measured.
Below the numbers, the table of what each level promises (evoforge.testing.sandbox_suite).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evoforge.sandbox import (
    Candidate,
    IsolationLevel,
    SandboxLimits,
    evaluate_code,
    warm,
)
from evoforge.sandbox._cgroup import hierarchies
from evoforge.sandbox.isolation import probe

PROGRAM = "def f(x):\n    return x + 1\n"
EVALUATOR = """\
from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    return Result(score=float(candidate.call("f", 1, timeout=30)))
"""


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


Key = tuple[IsolationLevel, str]   # (level, "cold" | "warm")


def measure(keys: list[Key], calls: int, evals: int, warmup: int = 2
            ) -> dict[Key, dict[str, list[float]]]:
    limits = SandboxLimits()
    samples: dict[Key, dict[str, list[float]]] = {
        key: {"call": [], "evaluate": []} for key in keys}
    with tempfile.TemporaryDirectory(prefix="evoforge-bench-") as tmp:
        task = Path(tmp) / "task"
        task.mkdir()
        (task / "evaluate.py").write_text(EVALUATOR)
        candidates = {key: Candidate.create(PROGRAM, isolation=key[0], limits=limits)
                      for key in keys}
        try:
            for i in range(warmup + calls):
                for key in keys:
                    warm.set_enabled(key[1] == "warm")
                    cand = candidates[key]
                    start = time.perf_counter()
                    assert cand.call("f", i, timeout=30) == i + 1
                    elapsed = time.perf_counter() - start
                    if cand.last_warm != (key[1] == "warm"):
                        raise RuntimeError(f"{key}: the call was not {key[1]}")
                    if i >= warmup:
                        samples[key]["call"].append(elapsed)
        finally:
            for cand in candidates.values():
                cand.close()
        for i in range(warmup + evals):
            for key in keys:
                warm.set_enabled(key[1] == "warm")
                start = time.perf_counter()
                ev = evaluate_code(task, PROGRAM, isolation=key[0].name.lower(), limits=limits,
                                   timeout=60)
                elapsed = time.perf_counter() - start
                if not ev.ok:
                    raise RuntimeError(f"{key}: evaluation failed: {ev.reason}")
                if i >= warmup:
                    samples[key]["evaluate"].append(elapsed)
    warm.set_enabled(None)
    warm.shutdown_all()
    return samples


def summarise(samples: dict[Key, dict[str, list[float]]]) -> list[dict]:
    base = samples.get((IsolationLevel.NONE, "cold"))
    rows = []
    for (lv, mode), kinds in samples.items():
        row: dict = {"level": lv.name.lower(), "mode": mode}
        cold = samples.get((lv, "cold"))
        for kind, values in kinds.items():
            med = statistics.median(values)
            row[f"{kind}_median_ms"] = round(med * 1000, 1)
            row[f"{kind}_p90_ms"] = round(percentile(values, 90) * 1000, 1)
            row[f"{kind}_n"] = len(values)
            if base is not None:
                row[f"{kind}_overhead_ms"] = round((med - statistics.median(base[kind])) * 1000, 1)
            if cold is not None:
                row[f"{kind}_warm_over_cold"] = round(med / statistics.median(cold[kind]), 2)
        rows.append(row)
    return rows


def machine() -> dict:
    return {"python": platform.python_version(), "kernel": platform.release(),
            "cpus": os.cpu_count(), "uid": os.getuid(),
            "cgroups": [kind for kind, _ in hierarchies()]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=30, help="candidate.call samples per level")
    parser.add_argument("--evals", type=int, default=15, help="evaluate_code samples per level")
    parser.add_argument("--levels", default="bwrap,landlock,unshare,none")
    parser.add_argument("--modes", default="cold,warm",
                        help="cold, warm (warm only where the level supports it)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    wanted = [IsolationLevel.parse(name) for name in args.levels.split(",") if name.strip()]
    levels = [lv for lv in wanted if probe(lv)]
    missing = [lv.name.lower() for lv in wanted if lv not in levels]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    keys = [(lv, mode) for lv in levels for mode in modes
            if mode == "cold" or (mode == "warm" and warm.supported(lv))]
    import logging

    logging.getLogger("evoforge.sandbox").setLevel(logging.ERROR)  # no per-level warnings
    rows = summarise(measure(keys, args.calls, args.evals))
    setup = (IsolationLevel.LANDLOCK.describe().split(":")[0]
             if IsolationLevel.LANDLOCK in levels else "")
    if args.json:
        print(json.dumps({"machine": machine(), "unavailable": missing, "rows": rows,
                          "landlock": setup}, indent=2))
        return
    info = machine()
    print(f"isolation overhead per evaluation - Python {info['python']}, kernel {info['kernel']}, "
          f"{info['cpus']} CPUs, uid {info['uid']}, cgroups {info['cgroups'] or 'none'}")
    print(f"{args.calls} calls and {args.evals} evaluations per level (after 2 warm-up runs); "
          "wall-clock ms measured by the parent\n")
    header = (f"{'level':8} {'mode':4} | {'call median':>11} {'p90':>7} {'+ vs none':>9} "
              f"{'warm/cold':>9} | {'evaluate median':>15} {'p90':>7} {'+ vs none':>9} "
              f"{'warm/cold':>9}")
    print(header)
    print("-" * len(header))
    nan = float("nan")
    for row in rows:
        print(f"{row['level']:8} {row['mode']:4} | {row['call_median_ms']:11.1f} "
              f"{row['call_p90_ms']:7.1f} {row.get('call_overhead_ms', nan):9.1f} "
              f"{row.get('call_warm_over_cold', nan):9.2f} | "
              f"{row['evaluate_median_ms']:15.1f} {row['evaluate_p90_ms']:7.1f} "
              f"{row.get('evaluate_overhead_ms', nan):9.1f} "
              f"{row.get('evaluate_warm_over_cold', nan):9.2f}")
    print("\nwarm: candidate calls forked from a pre-started zygote (evoforge.sandbox.warm); "
          "levels without a warm row stay cold")
    for name in missing:
        print(f"{name:8} | not available on this machine")
    if setup:
        print(f"\nlandlock measured as: {setup}")
    try:  # what each level buys for that time (needs pytest, a test dependency)
        from evoforge.testing.sandbox_suite import expectation_table
    except ImportError:
        return
    print("\nwhat each level promises here (tests/redteam/test_sandbox_conformance.py checks it):")
    print(expectation_table())


if __name__ == "__main__":
    main()
