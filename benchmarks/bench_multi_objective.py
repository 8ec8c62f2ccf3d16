"""Many objectives: the front's hypervolume after N proposals, Pareto selection vs a weighted sum.

The task is examples/two_objectives (digits of pi from the Leibniz series against the CPU
seconds the sandbox measured for the call). Both settings make the same zero-cost operator
proposals (`perturb` only: no model, no API key) and differ only in what the search ranks:

- pareto: the task as written: `objectives:` (digits ↑, compute.cpu_s ↓), `parent_selection: pareto`.
- weighted_sum: no `objectives:`; the evaluator's plain score, digits − 5·cpu_s, with the default
  `weighted` parent selection: the usual way to fold two objectives into one number.

Both are measured the same way: the hypervolume (reference digits 0, cpu 2 s) of every valid
program the run evaluated, read from the stored metrics, so the baseline is not disadvantaged by
what it stores. CPU times are real measurements on a shared machine: they are noisy.

    python benchmarks/bench_multi_objective.py --proposals 40 --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

import evoforge  # noqa: E402
from evoforge.config import load_config  # noqa: E402
from evoforge.engine.objectives import ObjectiveSpec  # noqa: E402
from evoforge.program import AttemptStatus  # noqa: E402
from evoforge.search.pareto import hypervolume, non_dominated  # noqa: E402
from evoforge.storage.base import open_storage  # noqa: E402

TASK = ROOT / "examples" / "two_objectives"
NO_MODEL = "openai/none@http://127.0.0.1:9/v1"   # never called: operators only
SETTINGS = {
    "pareto": {},
    "weighted_sum": {"objectives": [], "search": {"parent_selection": "weighted"}},
}


def measure(run_dir: Path, spec: ObjectiveSpec) -> tuple[float, int, int, float, float]:
    """(hypervolume, front size, valid programs, the initial program's own hypervolume, the most
    digits reached) of a finished run, from its stored metrics."""
    storage = open_storage(str(run_dir / "run.db"), read_only=True, create=False)
    try:
        run = storage.list_runs()[0]
        programs = storage.attempts(run.id, status=AttemptStatus.OK, with_code=False)
    finally:
        storage.close()
    points, initial = [], 0.0
    for a in programs:
        try:
            points.append(spec.oriented(spec.read(a.metrics, a.score)))
        except ValueError:
            continue
        if a.mutation == "initial":
            initial = hypervolume([points[-1]], spec.oriented_reference())
    front = [points[i] for i in non_dominated(points)]
    return (hypervolume(front, spec.oriented_reference()), len(set(front)), len(points), initial,
            max((p[0] for p in points), default=0.0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    import yaml

    spec = ObjectiveSpec.from_config(load_config(yaml.safe_load((TASK / "task.yaml").read_text())))
    assert spec is not None
    rows: dict[str, list[tuple[float, int, int, float, float]]] = {name: [] for name in SETTINGS}
    with tempfile.TemporaryDirectory(prefix="bench_mo_") as tmp:
        for seed in args.seeds:
            for name, extra in SETTINGS.items():
                run_dir = Path(tmp) / f"{name}-{seed}"
                evoforge.run(TASK, llm=NO_MODEL, run_dir=run_dir, seed=seed, progress=False, overrides={
                    **extra, "mutation": {"weights": {"perturb": 1.0}},
                    "budget": {"llm_calls": None, "proposals": args.proposals}})
                rows[name].append(measure(run_dir, spec))
                hv, size, valid, initial, digits = rows[name][-1]
                print(f"seed {seed} {name:>12}: hypervolume {hv:.4f} (initial program alone {initial:.4f}), "
                      f"front {size}, valid {valid}, most digits {digits:.2f}", flush=True)
    print(f"\nhypervolume after {args.proposals} operator proposals (reference digits 0, cpu 2 s), "
          f"seeds {' '.join(map(str, args.seeds))}")
    print(f"{'setting':>12} | {'per seed':>26} | {'mean':>7} | {'gain over initial':>17} | {'front size':>10} | "
          f"{'valid':>5} | {'most digits':>11}")
    for name, results in rows.items():
        per = " ".join(f"{r[0]:.3f}" for r in results)
        gain = statistics.mean(r[0] - r[3] for r in results)
        print(f"{name:>12} | {per:>26} | {statistics.mean(r[0] for r in results):7.3f} | {gain:17.3f} | "
              f"{statistics.mean(r[1] for r in results):10.1f} | {statistics.mean(r[2] for r in results):5.1f} | "
              f"{statistics.mean(r[4] for r in results):11.2f}")


if __name__ == "__main__":
    main()
