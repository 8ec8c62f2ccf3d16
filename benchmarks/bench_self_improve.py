"""Self-improvement with no model: does the promoted numeric policy beat evoforge's default?

Runs the README's no-model `evoforge self-improve` command (examples/self_improve/numeric) once
per outer seed and prints, per seed: wall time, how many candidate strategies the outer run
scored and how many were raced out early, the promotion decision with its held-out test
(n, mean difference, p, α), what the candidate strategy changed and the gain on each held-out
task. Nothing is asserted: the gate decides, this script only reports.

    python benchmarks/bench_self_improve.py                 # outer seeds 0 1 2, the README's settings
    python benchmarks/bench_self_improve.py --seeds 0 --inner-proposals 8 --proposals 2   # a quick look
    python benchmarks/bench_self_improve.py --outer-search perturb --proposals 12         # the earlier outer search

With ``--trace`` it also prints every strategy the outer run scored: the knobs it moved away from
the incumbent and its training score (the coordinate screen's first 2K proposals move one knob each).

The held-out test is the unchanged promotion gate (one-sided paired sign-flip permutation test,
α = 0.05) on the area under each inner run's best-so-far curve.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

NUMERIC = ROOT / "examples" / "self_improve" / "numeric"
TRAIN = ("tune_a", "tune_b", "tune_c")
HOLDOUT = ("tune_d", "tune_e", "tune_f")


def one_seed(seed: int, args: argparse.Namespace, out: Path) -> dict:
    from evoforge.mutate.coordinate import vector
    from evoforge.rsi.outer import SelfImproveOptions, self_improve
    from evoforge.rsi.promotion import per_task
    from evoforge.storage import open_storage

    opts = SelfImproveOptions(
        tasks=[str(NUMERIC / "tasks" / t) for t in TRAIN], holdout=[str(NUMERIC / "tasks" / t) for t in HOLDOUT],
        out=str(out), inner_budget=0, inner_proposals=args.inner_proposals, seeds=args.train_seeds,
        holdout_seeds=args.holdout_seeds, outer_budget=0, outer_proposals=args.proposals, seed=seed,
        initial=str(NUMERIC / "strategy_numeric.py"), outer_search=args.outer_search)
    started = time.monotonic()
    report = self_improve(opts)
    wall = time.monotonic() - started
    store = open_storage(report.storage_url, read_only=True)
    try:
        attempts = store.attempts(report.run_id)
    finally:
        store.close()
    base = vector(next(a.code for a in attempts if a.mutation == "initial"))
    trace = []
    for a in sorted(attempts, key=lambda a: a.proposal_index or 0):
        moved = {k: v for k, v in vector(a.code or "").items() if base.get(k) != v}
        trace.append({"index": a.proposal_index, "moved": moved, "train": a.score,
                      "raced_out_after": (a.metrics or {}).get("raced_out_after")})
    scored = [a for a in attempts if a.score is not None]
    raced = [a for a in attempts if (a.metrics or {}).get("raced_out_after")]
    p = report.promotion
    return {"seed": seed, "wall_s": round(wall, 1), "strategies": len(attempts), "scored": len(scored),
            "raced_out": len(raced), "status": p["status"], "test": p.get("test"),
            "incumbent_train": report.incumbent_train, "candidate_train": report.candidate_train,
            "changes": p["candidate"].get("changes") or [], "holdout": per_task(p["holdout"]) if p.get("holdout") else {},
            "trace": trace}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="outer seeds")
    ap.add_argument("--inner-proposals", type=int, default=16)
    ap.add_argument("--train-seeds", type=int, default=2)
    ap.add_argument("--holdout-seeds", type=int, default=4)
    ap.add_argument("--proposals", type=int, default=24, help="outer proposals (strategies tried)")
    ap.add_argument("--outer-search", choices=("screen", "perturb"), default="screen")
    ap.add_argument("--trace", action="store_true", help="print every strategy the outer run scored")
    ap.add_argument("--json", help="also write the rows here")
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-si-") as tmp:
        for seed in args.seeds:
            row = one_seed(seed, args, Path(tmp) / f"seed{seed}")
            rows.append(row)
            t = row["test"] or {}
            test = (f"n={t.get('n')} mean diff {t.get('mean_diff', 0):+.4g} p={t.get('p_value', 1):.4g}"
                    if t else "no held-out test")
            print(f"outer seed {seed}: {row['status']} ({test}); {row['wall_s']} s wall; {row['strategies']} strategies, "
                  f"{row['raced_out']} raced out; train {row['incumbent_train']:.4g} -> {row['candidate_train']:.4g}",
                  flush=True)
            for t in row["trace"] if args.trace else []:
                score = "-" if t["train"] is None else f"{t['train']:.4g}"
                raced = f" (raced out after {t['raced_out_after']})" if t["raced_out_after"] else ""
                print(f"    #{t['index']}: {t['moved'] or 'incumbent'} train {score}{raced}")
            for line in row["changes"]:
                print(f"    changes {line}")
            for task, g in row["holdout"].items():
                print(f"    held-out {task}: {g['incumbent']:+.4g} -> {g['candidate']:+.4g} "
                      f"(gain {g['gain']:+.4g}, {g['wins']:g}/{g['n']:g} better)")
    promoted = sum(1 for r in rows if r["status"] == "promoted")
    print(f"promoted on {promoted} of {len(rows)} outer seeds")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2, default=str), encoding="utf-8")


if __name__ == "__main__":
    main()
