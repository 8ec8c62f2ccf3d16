"""Run every benchmark with its defaults and print (and save) their tables.

``python benchmarks/run_all.py`` (add ``--quick`` for a one-minute smoke run; ``--save`` also
writes the tables to ``benchmarks/results-<host>-<date>.txt`` so that runs on different
machines can be compared side by side).
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_storage_scaling  # noqa: E402
import bench_throughput  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes: a smoke run, not a measurement")
    p.add_argument("--save", action="store_true", help="also write the tables to benchmarks/results-*.txt")
    args = p.parse_args(argv)
    if args.quick:
        throughput = ["--proposals", "8", "--null-proposals", "40"]
        scaling = ["--sizes", "1000,3000", "--proposals", "50"]
    else:
        throughput, scaling = [], []
    header = (f"evoforge benchmarks - {platform.node()} - {os.cpu_count()} cores - Python {platform.python_version()}"
              f" - {datetime.datetime.now():%Y-%m-%d %H:%M}\n")
    print(header)
    parts = [header, bench_throughput.main(throughput), bench_storage_scaling.main(scaling)]
    if args.save:
        out = HERE / f"results-{platform.node() or 'host'}-{datetime.date.today():%Y%m%d}.txt"
        out.write_text("\n".join(parts), encoding="utf-8")
        print(f"saved to {out}")


if __name__ == "__main__":
    main()
