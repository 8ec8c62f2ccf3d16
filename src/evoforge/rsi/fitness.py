"""A strategy's fitness: how much the inner engine improves other programs with it.

For each (task, seed) the inner engine runs with the strategy under a fixed budget of model
calls; the improvement is ``best − initial`` (sign-adjusted so that positive is better for
minimisation tasks too), divided by the task's scale (by default ``|initial score|``, or 1 when
that is 0) so that tasks with large scores do not drown the others. The fitness is the mean over
tasks and seeds.

Where things run (and why this is safe):
- the strategy (model-written code) runs only inside the sandbox, through `SandboxedStrategy`;
- the inner engine is evoforge's own trusted code; it runs in the outer evaluator's process
  (itself a separate process per evaluation, killed on timeout), so it can reach the model
  endpoint while the strategy cannot reach anything;
- inner candidates are evaluated by the inner tasks' own evaluators, sandboxed as usual.
"""
from __future__ import annotations

import json
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import TaskError
from .sandboxed import (
    SandboxedStrategy,
    StrategyFailed,
    check_strategy_source,
    proxy_source,
    register,
    unregister,
)

SMOKE_CODE = '"""smoke"""\n\n# EVOLVE-BLOCK-START\ndef f():\n    return 1\n# EVOLVE-BLOCK-END\n'


@dataclass
class InnerTask:
    """A training or held-out task of the outer evolution."""

    path: str
    name: str
    direction: str = "maximize"
    scale: float | None = None   # None: |initial score| (1 when that is 0)


@dataclass
class InnerRun:
    """The numbers of one inner run."""

    task: str
    seed: int
    initial: float
    best: float
    improvement: float     # sign-adjusted: positive is better
    normalised: float
    llm_calls: int
    proposals: int
    stop_reason: str
    seconds: float


@dataclass
class StrategyScore:
    """A strategy's fitness and the runs behind it; `failure` says why it is invalid."""

    runs: list[InnerRun] = field(default_factory=list)
    failure: str | None = None

    @property
    def mean(self) -> float:
        return sum(r.normalised for r in self.runs) / len(self.runs) if self.runs else 0.0

    def per_task(self) -> dict[str, float]:
        out: dict[str, list[float]] = {}
        for r in self.runs:
            out.setdefault(r.task, []).append(r.normalised)
        return {k: sum(v) / len(v) for k, v in out.items()}


def normalised_improvement(initial: float, best: float, direction: str, scale: float | None = None) -> tuple[float, float]:
    """(improvement, normalised improvement); positive means better in the task's direction."""
    sign = 1.0 if direction == "maximize" else -1.0
    improvement = sign * (best - initial)
    denom = scale if scale is not None else (abs(initial) if abs(initial) > 1e-9 else 1.0)
    if not denom or not math.isfinite(denom):
        denom = 1.0
    return improvement, improvement / abs(denom)


def run_inner(task: InnerTask, strategy_file: Path, *, llm: str | None, seed: int, inner_budget: int, run_dir: Path,
              proposals_cap: int | None = None, wall_clock_s: float | None = None) -> InnerRun:
    """One inner run of `task` with the strategy file; raises StrategyFailed if the strategy failed."""
    import evoforge

    from ..storage import open_storage

    overrides: dict[str, Any] = {
        "strategy": str(strategy_file), "seed": seed, "budget.llm_calls": inner_budget,
        "budget.proposals": proposals_cap or max(4, 4 * inner_budget), "evaluator.workers": 1,
    }
    if wall_clock_s:
        overrides["budget.wall_clock_s"] = wall_clock_s
    started = time.monotonic()
    result = evoforge.run(task.path, llm=llm, run_dir=run_dir, overrides=overrides, progress=False)
    store = open_storage(result.storage_url, read_only=True)
    try:
        attempts = store.attempts(result.run_id, with_code=False)
    finally:
        store.close()
    initial = next((a for a in attempts if a.mutation == "initial"), None)
    if initial is None or initial.score is None:
        why = initial.reason if initial is not None else "no initial attempt"
        raise TaskError(f"inner task {task.name}: its initial program has no valid score ({why})")
    best = result.best.score if result.best is not None and result.best.score is not None else initial.score
    improvement, normalised = normalised_improvement(initial.score, best, task.direction, task.scale)
    return InnerRun(task.name, seed, float(initial.score), float(best), improvement, normalised,
                    int(result.stats.get("llm_calls", 0)), int(result.stats.get("proposals", 0)),
                    result.stop_reason, time.monotonic() - started)


def _smoke_test(strategy: SandboxedStrategy) -> None:
    """Call every method once on small inputs: a strategy broken from the start fails here, cheaply."""
    import random

    ctx = dict(task_description="Return a larger number.", parent_code=SMOKE_CODE, parent_score=1.0,
               parent_feedback="", mode="diff", inspirations=[], insights=[], profile="small",
               direction="maximize", other_parent_code=None, failure_note=None)
    for profile in ("small", "large"):
        strategy.build_messages(**{**ctx, "profile": profile})
    strategy.mutation_weights({"diff": 0.5, "perturb": 0.2})
    strategy.temperature(0.7, 0)
    strategy.choose_inspirations([{"id": "a", "fitness": 1.0}], 1, random.Random(0))


def score_strategy(code: str, tasks: list[InnerTask], seeds: list[int], *, llm: str | None, inner_budget: int,
                   isolation: str = "auto", workdir: Path | None = None, keep_runs: bool = False,
                   wall_clock_s: float | None = None, log: Callable[[str], None] | None = None) -> StrategyScore:
    """Fitness of the strategy `code` on `tasks` × `seeds` (see the module docstring)."""
    problems = check_strategy_source(code)
    if problems:
        return StrategyScore(failure="strategy rejected before running: " + "; ".join(problems[:5]))
    root = Path(tempfile.mkdtemp(prefix="evoforge-rsi-", dir=workdir))
    score = StrategyScore()
    try:
        with SandboxedStrategy(code, isolation=isolation) as strategy:
            token = register(strategy)
            try:
                _smoke_test(strategy)
                proxy = root / "sandboxed_strategy.py"
                proxy.write_text(proxy_source(token), encoding="utf-8")
                for task in tasks:
                    for seed in seeds:
                        run = run_inner(task, proxy, llm=llm, seed=seed, inner_budget=inner_budget,
                                        run_dir=root / f"{task.name}-seed{seed}", wall_clock_s=wall_clock_s)
                        if strategy.failures:
                            raise StrategyFailed(strategy.failures[0])
                        score.runs.append(run)
                        if log:
                            log(f"  {task.name} seed {seed}: {run.initial:.6g} -> {run.best:.6g} "
                                f"(normalised {run.normalised:+.4g}, {run.llm_calls} calls)")
            except StrategyFailed as exc:
                score.failure = f"strategy failed: {exc}"
            finally:
                unregister(token)
    finally:
        if not keep_runs:
            shutil.rmtree(root, ignore_errors=True)
    return score


# -- the outer task's evaluator ------------------------------------------------------------------
def load_spec(path: Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def evaluate_strategy(candidate: Any, spec_path: str | Path, split: str = "train") -> Any:
    """``evaluate(candidate)`` of a generated self-improve task: fitness on the `split` tasks."""
    from ..sandbox import Result

    spec = load_spec(Path(spec_path))
    if split not in ("train", "holdout"):
        return Result.invalid(f"unknown split {split!r}")
    tasks = [InnerTask(**t) for t in spec[split]]
    seeds = list(spec["holdout_seeds" if split == "holdout" else "seeds"])
    score = score_strategy(candidate.code, tasks, seeds, llm=spec.get("llm"), inner_budget=int(spec["inner_budget"]),
                           isolation=spec.get("isolation", "auto"), wall_clock_s=spec.get("inner_wall_clock_s"))
    runs = [asdict(r) for r in score.runs]
    if score.failure:
        return Result.invalid(score.failure[:2000])
    per_task = score.per_task()
    feedback = "; ".join(f"{name}: {value:+.3g}" for name, value in per_task.items())
    metrics: dict[str, Any] = {"split": split, "runs_json": json.dumps(runs),  # Result metrics are flat scalars
                               "inner_llm_calls": sum(r.llm_calls for r in score.runs)}
    metrics.update({f"task:{name}": value for name, value in per_task.items()})
    return Result(score=score.mean, feedback=f"mean normalised improvement {score.mean:+.4g} ({feedback})",
                  metrics=metrics)
