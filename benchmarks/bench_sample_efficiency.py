"""Sample efficiency: best score after a fixed number of proposals, per setting and seed.

Settings (each one a set of config overrides) switch mechanisms on and off, so the table is an
ablation. The same script takes any model string, so a user with a strong model can reproduce
the comparison on their endpoint:

    python benchmarks/bench_sample_efficiency.py --llm embedded --proposals 60 --seeds 0 1 2
    python benchmarks/bench_sample_efficiency.py --llm openai/gpt-4o-mini --settings mix no_novelty

Output: one row per (task, setting) with the mean best score, how many seeds improved on the
initial program, the share of proposals that yielded a valid evaluated program, model calls,
operator proposals, the model calls and evaluations spent before the best was first reached
(sample efficiency per model call and per evaluation), the candidate CPU per evaluation (the
sandbox's measurement, `metrics["compute"]`, when the run recorded it), and a best-so-far curve;
plus JSON in --out for plots (written after every run, so a stopped benchmark keeps its rows).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import evoforge  # noqa: E402
from evoforge.engine.efficiency import best_after  # noqa: E402
from evoforge.program import AttemptStatus  # noqa: E402
from evoforge.storage import open_storage  # noqa: E402

MODEL_KINDS = {"diff": 0.7, "full": 0.2, "crossover": 0.1}
OPERATORS = {"perturb": 0.6, "swap": 0.1, "duplicate": 0.1, "delete": 0.1, "block_crossover": 0.1}

SETTINGS: dict[str, dict] = {
    # issue 10: the four ways of proposing
    "unconstrained": {"mutation.weights": {"diff": 1.0}, "llm.constrained": "never"},
    "constrained": {"mutation.weights": {"diff": 0.5, "tweak": 0.5}, "llm.constrained": "always"},
    "operators": {"mutation.weights": OPERATORS},
    "mix": {},  # the defaults: model edits and operators chosen by the adaptive bandit
    # issue 5: ablations of search mechanisms (on top of the mix)
    "no_bandit": {"mutation.adaptive": False},
    "no_novelty": {"search.novelty": False},
    "one_island": {"search.islands": 1},
    "hill_climb": {"search.parent_selection": "hill_climb"},
    "map_elites": {"search.parent_selection": "map_elites",
                   "search.map_elites": [{"name": "code_length", "min": 200, "max": 3000, "bins": 6}]},
}


def run_one(task: Path, llm: str, setting: str, seed: int, proposals: int, workdir: Path) -> dict:
    overrides = {"budget.llm_calls": None, "budget.proposals": proposals, "seed": seed, **SETTINGS[setting]}
    started = time.monotonic()
    result = evoforge.run(task, llm=llm, run_dir=workdir / f"{task.name}-{setting}-{seed}", overrides=overrides)
    store = open_storage(result.storage_url, read_only=True)
    try:
        attempts = store.attempts(result.run_id, with_code=False)
        usage = store.usage_totals(result.run_id)
        after = best_after(store, result.run_id, evoforge.load_task(task).maximize) or {}
    finally:
        store.close()
    maximize = evoforge.load_task(task).maximize
    initial = attempts[0].score if attempts and attempts[0].status is AttemptStatus.OK else None
    curve, best = [], initial  # the best so far starts at the initial program: a worse child is no "best"
    for a in attempts[1:]:
        if a.is_program and (best is None or (a.score > best if maximize else a.score < best)):
            best = a.score
        curve.append(best)
    proposals_made = [a for a in attempts[1:]]
    model_made = [a for a in proposals_made if a.model]
    valid = [a for a in proposals_made if a.status is AttemptStatus.OK]
    cpu = [a.metrics["compute"]["cpu_s"] for a in attempts
           if isinstance((a.metrics or {}).get("compute"), dict) and "cpu_s" in a.metrics["compute"]]
    final = best
    improved = best is not None and initial is not None and (best > initial if maximize else best < initial)
    return {
        "task": task.name, "setting": setting, "seed": seed, "initial": initial, "best": final, "improved": improved,
        "proposals": len(proposals_made), "model_calls": usage["calls"], "operator_proposals": len(proposals_made) - len(model_made),
        "valid_share": len(valid) / max(1, len(proposals_made)),
        "model_valid_share": sum(1 for a in model_made if a.status is AttemptStatus.OK) / max(1, len(model_made)),
        "calls_to_best": after.get("model_calls", 0), "evals_to_best": after.get("evaluations", 0),
        "cpu_per_eval": statistics.mean(cpu) if cpu else None,
        "curve": curve, "seconds": time.monotonic() - started,
    }


def _cpu(group: list[dict]) -> str:
    known = [r["cpu_per_eval"] for r in group if r.get("cpu_per_eval") is not None]
    return f"{statistics.mean(known):.2f}s" if known else "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--llm", default="embedded")
    p.add_argument("--tasks", nargs="+", default=[str(ROOT / "examples/function_minimization"), str(ROOT / "examples/circle_packing")])
    p.add_argument("--settings", nargs="+", default=["unconstrained", "constrained", "operators", "mix"], choices=list(SETTINGS))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--proposals", type=int, default=60)
    p.add_argument("--out", default="", help="write all rows as JSON here")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for task in map(Path, args.tasks):
            for setting in args.settings:
                for seed in args.seeds:
                    row = run_one(task, args.llm, setting, seed, args.proposals, Path(tmp))
                    rows.append(row)
                    if args.out:  # after every run, so a long benchmark that is stopped keeps its rows
                        Path(args.out).write_text(json.dumps(rows, indent=1))
                    print(f"  {task.name:24s} {setting:14s} seed {seed}: best {row['best']:.6g} "
                          f"(initial {row['initial']:.6g}), valid {100 * row['valid_share']:.0f}%, "
                          f"model valid {100 * row['model_valid_share']:.0f}%, {row['model_calls']} calls, "
                          f"{row['seconds']:.0f}s", flush=True)
    print(f"\nSample efficiency: {args.proposals} proposals per run, model {args.llm}, seeds {args.seeds}")
    header = f"{'task':24s} {'setting':14s} {'mean best':>11s} {'improved':>9s} {'valid':>6s} {'model valid':>12s} {'calls':>6s} {'ops':>5s} {'calls→best':>11s} {'evals→best':>11s} {'CPU/eval':>9s}"
    print(header)
    print("-" * len(header))
    for task in dict.fromkeys(r["task"] for r in rows):
        for setting in args.settings:
            group = [r for r in rows if r["task"] == task and r["setting"] == setting]
            if not group:
                continue
            print(f"{task:24s} {setting:14s} {statistics.mean(r['best'] for r in group):11.6g} "
                  f"{sum(r['improved'] for r in group):>5d}/{len(group):<3d} "
                  f"{100 * statistics.mean(r['valid_share'] for r in group):5.0f}% "
                  f"{100 * statistics.mean(r['model_valid_share'] for r in group):11.0f}% "
                  f"{statistics.mean(r['model_calls'] for r in group):6.1f} "
                  f"{statistics.mean(r['operator_proposals'] for r in group):5.1f} "
                  f"{statistics.mean(r.get('calls_to_best', 0) for r in group):11.1f} "
                  f"{statistics.mean(r.get('evals_to_best', 0) for r in group):11.1f} "
                  f"{_cpu(group):>9s}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
