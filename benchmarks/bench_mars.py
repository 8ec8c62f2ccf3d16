"""Rounds per second of evoforge's MARS (src/evoforge/arenas/mars.py) on classic matchups.

    python benchmarks/bench_mars.py [--rounds N] [--json]

Each matchup is played at the '94 hill settings (core 8000, 80,000 cycles, 8,000 processes)
with the warriors written for the tests (tests/arenas/warriors). A round that ends in a tie
runs all 160,000 instructions, so ties dominate the cost; instructions per second is the
number to compare between machines and versions. With a `pmars` binary on PATH (or
PMARS=/path/to/pmars) the same rounds are timed with pMARS for reference.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from evoforge.arenas import assemble, battle

WARRIORS = ROOT / "tests" / "arenas" / "warriors"
MATCHUPS = [("imp", "imp"), ("dwarf", "imp"), ("paper", "dwarf"), ("stone", "paper"),
            ("scanner", "stone")]


def _pmars() -> str | None:
    exe = os.environ.get("PMARS") or shutil.which("pmars")
    return exe if exe and os.access(exe, os.X_OK) else None


def time_pmars(exe: str, a: Path, b: Path, rounds: int) -> float | None:
    start = time.perf_counter()
    out = subprocess.run([exe, "-b", "-r", str(rounds), "-F", "4000", str(a), str(b)],
                         capture_output=True, text=True, check=False)
    return time.perf_counter() - start if "Results:" in out.stdout else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    exe = _pmars()
    rows = []
    for left, right in MATCHUPS:
        pa, pb = WARRIORS / f"{left}.red", WARRIORS / f"{right}.red"
        wa, wb = assemble(pa.read_text()), assemble(pb.read_text())
        start = time.perf_counter()
        result = battle([wa, wb], rounds=args.rounds, first_position=4000)
        seconds = time.perf_counter() - start
        steps = sum(r.executed for r in result.rounds)
        row = {"matchup": f"{left} vs {right}", "rounds": args.rounds,
               "w/l/t": f"{result.wins(0)}/{result.losses(0)}/{result.ties(0)}",
               "seconds": round(seconds, 3), "rounds_per_s": round(args.rounds / seconds, 2),
               "instructions_per_s": round(steps / seconds)}
        if exe:
            ps = time_pmars(exe, pa, pb, args.rounds)
            row["pmars_seconds"] = round(ps, 3) if ps else None
        rows.append(row)
    total_rounds = sum(r["rounds"] for r in rows)
    total_s = sum(r["seconds"] for r in rows)
    summary = {"python": platform.python_version(), "machine": platform.machine(),
               "rounds_per_s": round(total_rounds / total_s, 2), "matchups": rows}
    if args.json:
        print(json.dumps(summary, indent=1))
        return
    print(f"evoforge MARS, Python {summary['python']} on {summary['machine']}")
    for r in rows:
        extra = f"  (pmars {r['pmars_seconds']}s)" if "pmars_seconds" in r else ""
        print(f"  {r['matchup']:<20} {r['w/l/t']:>8}  {r['rounds_per_s']:>7} rounds/s  "
              f"{r['instructions_per_s'] / 1e6:5.2f} M instr/s{extra}")
    print(f"overall: {summary['rounds_per_s']} rounds/s")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
