"""A strategy's fitness: how much, and how fast, the inner engine improves other programs with it.

For each (task, seed) the inner engine runs with the strategy under a fixed budget of model
calls and proposals. A run's improvement is ``best − initial`` (sign-adjusted so that positive
is better for minimisation tasks too), divided by the task's scale (by default ``|initial
score|``, or 1 when that is 0) so that tasks with large scores do not drown the others.

Two fitnesses of a run (``fitness``):
- ``"auc"`` (the default of ``evoforge self-improve``): the area under the best-so-far curve,
  i.e. the mean over proposals 1..P of the normalised improvement of the best program found so
  far (P the proposal budget; a run that stops early keeps its last value). It rewards finding
  gains *early* as well as finding them at all, and it averages P noisy points instead of
  trusting one, so two strategies separate with fewer runs.
- ``"final"``: the normalised improvement of the last best program.

A strategy's fitness is the mean over tasks × seeds. Every strategy runs on the *same* seeds
(paired: the inner engine is deterministic given its seed, so identical strategies give
identical runs and a difference between two strategies is theirs, not the seeds'). A strategy
may also set the numeric policy of its inner runs (`policy`: operator weights, selection
pressure, island settings), and candidates can be raced against the incumbent (`racing`).

Where things run (and why this is safe):
- the strategy (model-written code) runs only inside the sandbox, through `SandboxedStrategy`;
- the inner engine is evoforge's own trusted code; it runs in the outer evaluator's process
  (itself a separate process per evaluation, killed on timeout), so it can reach the model
  endpoint while the strategy cannot reach anything;
- inner candidates are evaluated by the inner tasks' own evaluators, sandboxed as usual.
"""
from __future__ import annotations

import hashlib
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
from .policy import PolicyError, check_policy, operator_weights
from .racing import RaceRule, drop_verdict, instance_order, raced_fitness
from .sandboxed import (
    SandboxedStrategy,
    StrategyFailed,
    check_strategy_source,
    proxy_source,
    register,
    unregister,
)

SMOKE_CODE = '"""smoke"""\n\n# EVOLVE-BLOCK-START\ndef f():\n    return 1\n# EVOLVE-BLOCK-END\n'
FITNESSES = ("auc", "final")


@dataclass
class InnerTask:
    """A training or held-out task of the outer evolution."""

    path: str
    name: str
    direction: str = "maximize"
    scale: float | None = None   # None: |initial score| (1 when that is 0)


@dataclass
class InnerRun:
    """The numbers of one inner run; `value` is its fitness (AUC or final, see the module docstring)."""

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
    auc: float = 0.0
    value: float = 0.0


@dataclass
class StrategyScore:
    """A strategy's fitness and the runs behind it; `failure` says why it is invalid; `raced`
    holds the numbers of the racing test that dropped it (then `mean` is the paired estimate)."""

    runs: list[InnerRun] = field(default_factory=list)
    failure: str | None = None
    raced: dict[str, Any] | None = None
    estimate: float | None = None
    policy: dict[str, Any] = field(default_factory=dict)

    @property
    def mean(self) -> float:
        if self.estimate is not None:
            return self.estimate
        return sum(r.value for r in self.runs) / len(self.runs) if self.runs else 0.0

    def per_task(self) -> dict[str, float]:
        out: dict[str, list[float]] = {}
        for r in self.runs:
            out.setdefault(r.task, []).append(r.value)
        return {k: sum(v) / len(v) for k, v in out.items()}


def normalised_improvement(initial: float, best: float, direction: str, scale: float | None = None) -> tuple[float, float]:
    """(improvement, normalised improvement); positive means better in the task's direction."""
    sign = 1.0 if direction == "maximize" else -1.0
    improvement = sign * (best - initial)
    denom = scale if scale is not None else (abs(initial) if abs(initial) > 1e-9 else 1.0)
    if not denom or not math.isfinite(denom):
        denom = 1.0
    return improvement, improvement / abs(denom)


def best_so_far_auc(initial: float, scores: list[tuple[int, float | None]], direction: str, proposals: int,
                    scale: float | None = None) -> float:
    """Mean over proposals 1..`proposals` of the normalised improvement of the best score so far.

    `scores` holds (proposal index, score or None for a proposal that produced no program);
    proposals past the end of the run keep the last best (a run that stopped early is not
    rewarded for stopping)."""
    if proposals < 1:
        return 0.0
    maximize = direction == "maximize"
    by_index = {i: s for i, s in scores if s is not None and math.isfinite(s)}
    best, total = initial, 0.0
    for k in range(1, proposals + 1):
        s = by_index.get(k)
        if s is not None and (s > best if maximize else s < best):
            best = s
        total += normalised_improvement(initial, best, direction, scale)[1]
    return total / proposals


def inner_overrides(strategy_file: Path, *, seed: int, inner_budget: int, proposals: int,
                    policy: dict[str, Any] | None = None, wall_clock_s: float | None = None,
                    task_weights: dict[str, float] | None = None) -> dict[str, Any]:
    """The config overrides of one inner run: the budget and seed (never the strategy's to set),
    then the strategy's numeric policy. With no model (`inner_budget` 0) the run spends only
    zero-cost operators, with evoforge's default operator weights unless the task or the
    policy says otherwise."""
    overrides: dict[str, Any] = {"strategy": str(strategy_file), "seed": seed, "budget.proposals": proposals,
                                 "evaluator.workers": 1}
    if inner_budget > 0:
        overrides["budget.llm_calls"] = inner_budget
    else:
        overrides["budget.llm_calls"] = None
        if not task_weights:
            overrides["mutation.weights"] = operator_weights()
    if wall_clock_s:
        overrides["budget.wall_clock_s"] = wall_clock_s
    for key, value in (policy or {}).items():
        overrides[key] = value
    return overrides


def run_inner(task: InnerTask, strategy_file: Path, *, llm: str | None, seed: int, inner_budget: int, run_dir: Path,
              proposals_cap: int | None = None, wall_clock_s: float | None = None,
              policy: dict[str, Any] | None = None, fitness: str = "final") -> InnerRun:
    """One inner run of `task` with the strategy file; raises StrategyFailed if the strategy failed."""
    import evoforge

    from ..storage import open_storage
    from ..task import load_task

    proposals = proposals_cap or max(4, 4 * inner_budget)
    weights = load_task(task.path).config.mutation.weights
    overrides = inner_overrides(strategy_file, seed=seed, inner_budget=inner_budget, proposals=proposals,
                                policy=policy, wall_clock_s=wall_clock_s, task_weights=weights)
    if inner_budget == 0 and weights and "mutation.weights" not in (policy or {}):
        from ..mutate import kinds as kind_registry

        ops = {k: w for k, w in weights.items() if not kind_registry.is_model_kind(k)}
        if not any(ops.values()):
            raise TaskError(f"inner task {task.name}: with no model calls (--inner-budget 0) it needs a zero-cost "
                            "operator among its mutation.weights")
        overrides["mutation.weights"] = ops
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
    curve = [(int(a.proposal_index), a.score if a.is_program else None) for a in attempts if a.mutation != "initial"]
    auc = best_so_far_auc(float(initial.score), curve, task.direction, proposals, task.scale)
    return InnerRun(task.name, seed, float(initial.score), float(best), improvement, normalised,
                    int(result.stats.get("llm_calls", 0)), int(result.stats.get("proposals", 0)),
                    result.stop_reason, time.monotonic() - started, auc, auc if fitness == "auc" else normalised)


def _smoke_test(strategy: SandboxedStrategy) -> dict[str, Any]:
    """Call every method once on small inputs: a strategy broken from the start fails here, cheaply.
    Returns the strategy's numeric policy (checked)."""
    import random

    ctx = dict(task_description="Return a larger number.", parent_code=SMOKE_CODE, parent_score=1.0,
               parent_feedback="", mode="diff", inspirations=[], insights=[], profile="small",
               direction="maximize", other_parent_code=None, failure_note=None)
    for profile in ("small", "large"):
        strategy.build_messages(**{**ctx, "profile": profile})
    strategy.mutation_weights({"diff": 0.5, "perturb": 0.2})
    strategy.temperature(0.7, 0)
    strategy.choose_inspirations([{"id": "a", "fitness": 1.0}], 1, random.Random(0))
    try:
        return check_policy(strategy.config_overrides())
    except PolicyError as exc:
        raise StrategyFailed(str(exc)) from None


def code_digest(code: str) -> str:
    """What identifies a strategy for reuse of its runs (the incumbent's reference runs)."""
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def score_strategy(code: str, tasks: list[InnerTask], seeds: list[int], *, llm: str | None, inner_budget: int,
                   isolation: str = "auto", workdir: Path | None = None, keep_runs: bool = False,
                   wall_clock_s: float | None = None, log: Callable[[str], None] | None = None,
                   proposals: int | None = None, fitness: str = "final",
                   reference: list[dict[str, Any]] | None = None, race: RaceRule | None = None) -> StrategyScore:
    """Fitness of the strategy `code` on `tasks` × `seeds` (see the module docstring).

    With `reference` (the incumbent's runs as dicts) and `race`, the candidate is raced: runs go
    in `racing.instance_order` and stop as soon as the incumbent is clearly better."""
    if fitness not in FITNESSES:
        raise ValueError(f"fitness must be one of {FITNESSES}, got {fitness!r}")
    problems = check_strategy_source(code)
    if problems:
        return StrategyScore(failure="strategy rejected before running: " + "; ".join(problems[:5]))
    by_name = {t.name: t for t in tasks}
    ref = {(r["task"], r["seed"]): float(r["value"]) for r in reference or []}
    root = Path(tempfile.mkdtemp(prefix="evoforge-rsi-", dir=workdir))
    score = StrategyScore()
    try:
        with SandboxedStrategy(code, isolation=isolation) as strategy:
            token = register(strategy)
            try:
                score.policy = _smoke_test(strategy)
                proxy = root / "sandboxed_strategy.py"
                proxy.write_text(proxy_source(token), encoding="utf-8")
                mine: list[float] = []
                theirs: list[float] = []
                for name, seed in instance_order([t.name for t in tasks], seeds):
                    task = by_name[name]
                    run = run_inner(task, proxy, llm=llm, seed=seed, inner_budget=inner_budget,
                                    run_dir=root / f"{task.name}-seed{seed}", wall_clock_s=wall_clock_s,
                                    proposals_cap=proposals, policy=score.policy, fitness=fitness)
                    if strategy.failures:
                        raise StrategyFailed(strategy.failures[0])
                    score.runs.append(run)
                    if log:
                        log(f"  {task.name} seed {seed}: {run.initial:.6g} -> {run.best:.6g} "
                            f"(normalised {run.normalised:+.4g}, auc {run.auc:+.4g}, {run.llm_calls} calls)")
                    if race is None or (task.name, seed) not in ref:
                        continue
                    mine.append(run.value)
                    theirs.append(ref[(task.name, seed)])
                    verdict = drop_verdict(mine, theirs, race)
                    if verdict is not None and len(score.runs) < len(tasks) * len(seeds):
                        ref_mean = sum(ref.values()) / len(ref)
                        score.raced, score.estimate = verdict, raced_fitness(mine, theirs, ref_mean)
                        if log:
                            log(f"  raced out after {len(mine)} runs (p = {verdict['p_value']:.3g})")
                        break
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
    """``evaluate(candidate)`` of a generated self-improve task: fitness on the `split` tasks.

    On the training split the incumbent's own runs (``reference`` in the spec, computed before
    the outer run) are reused for the incumbent and are what candidates race against."""
    from ..sandbox import Result

    spec = load_spec(Path(spec_path))
    if split not in ("train", "holdout"):
        return Result.invalid(f"unknown split {split!r}")
    tasks = [InnerTask(**t) for t in spec[split]]
    seeds = list(spec["holdout_seeds" if split == "holdout" else "seeds"])
    fitness = spec.get("fitness", "final")
    reference = spec.get("reference") if split == "train" else None
    if reference and reference.get("digest") == code_digest(candidate.code):
        score = StrategyScore(runs=[InnerRun(**r) for r in reference["runs"]], policy=reference.get("policy", {}))
    else:
        race_spec = spec.get("race")
        race = RaceRule(**race_spec) if race_spec and reference else None
        score = score_strategy(candidate.code, tasks, seeds, llm=spec.get("llm"), inner_budget=int(spec["inner_budget"]),
                               isolation=spec.get("isolation", "auto"), wall_clock_s=spec.get("inner_wall_clock_s"),
                               proposals=spec.get("inner_proposals"), fitness=fitness,
                               reference=reference["runs"] if reference else None, race=race)
    runs = [asdict(r) for r in score.runs]
    if score.failure:
        return Result.invalid(score.failure[:2000])
    per_task = score.per_task()
    feedback = "; ".join(f"{name}: {value:+.3g}" for name, value in per_task.items())
    metrics: dict[str, Any] = {"split": split, "runs_json": json.dumps(runs),  # Result metrics are flat scalars
                               "inner_llm_calls": sum(r.llm_calls for r in score.runs),
                               "inner_runs": len(score.runs), "policy_json": json.dumps(score.policy),
                               "fitness": fitness}
    metrics.update({f"task:{name}": value for name, value in per_task.items()})
    what = "area under the best-so-far curve" if fitness == "auc" else "normalised improvement"
    text = f"mean {what} {score.mean:+.4g} ({feedback})"
    if score.raced:
        metrics["raced_out_after"] = score.raced["after_runs"]
        metrics["race_p_value"] = score.raced["p_value"]
        text += (f"; raced out after {score.raced['after_runs']} runs: clearly worse than the incumbent "
                 f"(p = {score.raced['p_value']:.3g}), score is the paired estimate")
    return Result(score=score.mean, feedback=text, metrics=metrics)
