"""Rounds per second of evoforge's MARS, both engines, next to pMARS, in one run.

    python benchmarks/bench_mars.py [--rounds N] [--python-rounds N] [--repeat K] [--json]

Each matchup is played at the '94 hill settings (core 8000, 80,000 cycles, 8,000 processes)
with the warriors written for the tests (tests/arenas/warriors) plus two that live long (a
process bomb, SPL 0 / JMP -1, and a silk-style paper). A round that ends in a tie runs all 160,000 instructions, so ties dominate the
cost: the "full-length" line sums the matchups whose every round went the distance, which is
what issue 17's target (native within 2x of pMARS per round) is about.

Engines: "python" (mars_python.py) and "native" (_mars_core.c via mars_native.py), each timed
through `battle()`, so Python's per-round setup counts. With a `pmars` binary (PMARS=..., on
PATH, or /opt/pmars/pmars from scripts/build_pmars.sh) the same rounds (``-F 4000``) are
timed with pMARS; its process start and assembly (``-r 0``, timed apart) are subtracted, which
favours pMARS. Times are CPU seconds (ours: this process; pMARS: its child process), so a
machine shared with other jobs skews them less than wall time; each figure is the best of
`--repeat` interleaved tries; ratios are taken between figures of this one run.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evoforge.arenas import assemble, battle, mars_native

WARRIORS = ROOT / "tests" / "arenas" / "warriors"
EXTRA = {"spljmp": "SPL 0\nJMP -1\n", "silk": "SPL 1\nSPL 1\nSPL 1\nSPL @0, }500\n"
         "MOV.I }-1, >-1\nJMP -2\n"}
MATCHUPS = [("imp", "imp"), ("dwarf", "imp"), ("paper", "dwarf"), ("stone", "paper"),
            ("scanner", "stone"), ("spljmp", "silk"), ("silk", "imp"), ("spljmp", "imp"),
            ("spljmp", "spljmp")]


def _pmars() -> str | None:
    for exe in (os.environ.get("PMARS"), shutil.which("pmars"), "/opt/pmars/pmars"):
        if exe and os.access(exe, os.X_OK):
            return exe
    return None


def _source(name: str, folder: Path) -> Path:
    if name in EXTRA:
        path = folder / f"{name}.red"
        path.write_text(EXTRA[name])
        return path
    return WARRIORS / f"{name}.red"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_pmars(exe: str, a: Path, b: Path, rounds: int) -> float | None:
    """CPU seconds of one pMARS process playing `rounds` rounds (0: start and assembly)."""
    start = _children_cpu()
    out = subprocess.run([exe, "-b", "-r", str(rounds), "-F", "4000", str(a), str(b)],
                         capture_output=True, text=True, check=False)
    seconds = _children_cpu() - start
    return seconds if rounds == 0 or "Results:" in out.stdout else None


def time_engine(engine: str, ws: list, rounds: int) -> tuple[float, object]:
    """CPU seconds of `battle()` on one engine, and its result."""
    os.environ["EVOFORGE_MARS"] = engine
    start = time.process_time()
    result = battle(ws, rounds=rounds, first_position=4000)
    return time.process_time() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds for native and pMARS")
    parser.add_argument("--python-rounds", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    exe = _pmars()
    native = mars_native.available()
    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(args, exe, native, Path(tmp))
    report(args, exe, native, rows)


def measure(args: argparse.Namespace, exe: str | None, native: bool,
            folder: Path) -> list[dict]:
    rows = []
    for left, right in MATCHUPS:
        pa, pb = _source(left, folder), _source(right, folder)
        ws = [assemble(pa.read_text()), assemble(pb.read_text())]
        best: dict[str, float] = {}
        pm_start = pm_total = float("inf")
        for _ in range(args.repeat):
            tries = {"python": args.python_rounds}
            if native:
                tries["native"] = args.rounds
            for engine, rounds in tries.items():
                seconds, result = time_engine(engine, ws, rounds)
                best[engine] = min(best.get(engine, seconds), seconds / rounds)
                if engine == "native" or not native:
                    ref = result  # the longer run (the engines agree round by round)
            if exe:
                start_s = time_pmars(exe, pa, pb, 0)
                total = time_pmars(exe, pa, pb, args.rounds)
                if start_s is not None and total is not None:
                    pm_start = min(pm_start, start_s)
                    pm_total = min(pm_total, total)
        if pm_total < float("inf"):
            best["pmars"] = max(pm_total - pm_start, 1e-6) / args.rounds
        row = {"matchup": f"{left} vs {right}",
               "w/l/t": f"{ref.wins(0)}/{ref.losses(0)}/{ref.ties(0)}",
               "full_length": all(r.cycles == 80_000 for r in ref.rounds),
               "instructions_per_round": sum(r.executed for r in ref.rounds) / len(ref.rounds)}
        for engine, per in best.items():
            row[f"{engine}_rounds_per_s"] = round(1 / per, 1)
        rows.append(row)
    return rows


def report(args: argparse.Namespace, exe: str | None, native: bool, rows: list[dict]) -> None:
    summary = {"python": platform.python_version(), "machine": platform.machine(),
               "pmars": exe, "native": native, "matchups": rows}
    for label, chosen in (("all", rows), ("full_length", [r for r in rows if r["full_length"]])):
        if not chosen:
            continue
        agg = {}
        for engine in ("python", "native", "pmars"):
            key = f"{engine}_rounds_per_s"
            if all(key in r for r in chosen):
                agg[engine] = round(len(chosen) / sum(1 / r[key] for r in chosen), 1)
        if "native" in agg:
            agg["native_over_python"] = round(agg["native"] / agg["python"], 1)
            if "pmars" in agg:
                agg["pmars_over_native"] = round(agg["pmars"] / agg["native"], 2)
        summary[label] = agg
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(f"evoforge MARS, Python {summary['python']} on {summary['machine']}; "
          f"pMARS: {exe or 'none found'}; native engine: {'yes' if native else 'no'}")
    print(f"  {'matchup':<18} {'w/l/t':>8} {'instr/round':>11}  rounds/s: "
          f"{'python':>8} {'native':>8} {'pmars':>8}")
    for r in rows:
        cells = " ".join(f"{r.get(f'{e}_rounds_per_s', '-'):>8}" for e in ("python", "native",
                                                                           "pmars"))
        print(f"  {r['matchup']:<18} {r['w/l/t']:>8} {r['instructions_per_round']:>11.0f}  "
              f"          {cells}")
    for label in ("all", "full_length"):
        if label in summary:
            print(f"{label}: " + ", ".join(f"{k} {v}" for k, v in summary[label].items()))


if __name__ == "__main__":
    main()
