"""Does a numeric policy found by self-improvement beat evoforge's default on the shipped examples?

The check before proposing a promoted policy as a new default: for each example task, runs with
only zero-cost operators (no model, so nothing but the policy differs) under the default policy
and under the candidate policy, on the same seeds (paired), and compares the area under each
run's best-so-far curve (`evoforge.rsi.fitness`, the self-improve fitness) with the promotion
gate's own test (one-sided paired sign-flip permutation test, α = 0.05), per example and over
all pairs. Nothing is asserted: the numbers decide.

    python benchmarks/bench_policy_transfer.py --policy '{"mutation.perturb_scale": 0.8}'
    python benchmarks/bench_policy_transfer.py --strategy OUT/incumbent_strategy.py --seeds 4 --proposals 24

With ``--strategy`` the candidate runs are run with that strategy file itself (so its
``mutation_weights()`` — the numeric strategy's operator-weight levels — applies as well as its
``config_overrides()``); the default runs use evoforge's default strategy and no overrides.

Why zero-cost operators only: a model's edits would add noise (and cost) the policy does not
control; the policy's operator knobs (perturb's step size, operator weights) and search knobs
(selection, islands) act on every run, with or without a model, so an operator-only run shows
whether they pay on the example's own program and evaluator.
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

EXAMPLES = ("circle_packing", "function_minimization", "contest_placement", "contest_routing", "two_objectives")


def runs_of(task_dir: Path, policy: dict, seeds: list[int], proposals: int, tmp: Path,
            strategy: Path = Path("default")) -> list[float]:
    from evoforge.rsi.fitness import InnerTask, run_inner
    from evoforge.task import load_task

    task = load_task(task_dir)
    inner = InnerTask(str(task_dir), task.name, task.config.direction)
    out = []
    for seed in seeds:
        tag = abs(hash(json.dumps([str(strategy), policy], sort_keys=True)))
        run = run_inner(inner, strategy, llm=None, seed=seed, inner_budget=0, proposals_cap=proposals,
                        run_dir=tmp / f"{task.name}-{tag}-{seed}",
                        policy=policy, fitness="auc")
        out.append(run.value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--policy", help="the candidate policy as JSON dotted overrides")
    ap.add_argument("--strategy", help="or a strategy file whose config_overrides() is the candidate policy")
    ap.add_argument("--examples", nargs="+", default=list(EXAMPLES))
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--proposals", type=int, default=24)
    ap.add_argument("--json", help="also write the numbers here")
    args = ap.parse_args()
    from evoforge.rsi.policy import check_policy, strategy_overrides
    from evoforge.rsi.stats import paired_permutation_test

    if bool(args.policy) == bool(args.strategy):
        ap.error("give exactly one of --policy and --strategy")
    strategy = Path("default")
    if args.policy:
        policy = check_policy(json.loads(args.policy))
    else:
        policy = {k: v for k, v in strategy_overrides(args.strategy).items() if k != "strategy"}
        strategy = Path(args.strategy).resolve()
    print(f"candidate policy {json.dumps(policy)}{'' if args.policy else f' with the strategy {strategy}'}; "
          f"{args.seeds} seeds x {args.proposals} operator proposals per run")
    seeds = list(range(100, 100 + args.seeds))
    rows, all_c, all_d = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-transfer-") as tmp:
        for name in args.examples:
            started = time.monotonic()
            d = runs_of(ROOT / "examples" / name, {}, seeds, args.proposals, Path(tmp))
            c = runs_of(ROOT / "examples" / name, policy, seeds, args.proposals, Path(tmp), strategy)
            test = paired_permutation_test(c, d)
            all_c += c
            all_d += d
            rows.append({"example": name, "default": d, "candidate": c, "test": test.to_dict(),
                         "wall_s": round(time.monotonic() - started, 1)})
            print(f"{name}: default {sum(d) / len(d):+.4g} -> candidate {sum(c) / len(c):+.4g} "
                  f"({test.wins} better, {test.losses} worse, p = {test.p_value:.3g}); {rows[-1]['wall_s']} s", flush=True)
    pooled = paired_permutation_test(all_c, all_d)
    print(f"all examples: {pooled.summary()}")
    if args.json:
        Path(args.json).write_text(json.dumps({"policy": policy, "rows": rows, "pooled": pooled.to_dict()}, indent=2),
                                   encoding="utf-8")


if __name__ == "__main__":
    main()
