"""Evaluating one program through the cascade of stages the task declares.

Cheap stages run first; a stage whose score misses its threshold stops the cascade, so a bad
program never pays for the expensive stage. The last stage's result is the program's result;
earlier stage scores are kept as metrics (``stage_<name>_score``). The cost of the stages that
ran is summed into the returned Evaluation's `cost` (what the attempt cost, all stages together).
"""
from __future__ import annotations

import dataclasses
from typing import Any

from ..executors.base import Executor, request_for
from ..safety import IntegrityError
from ..sandbox import Evaluation
from .compute import summed


def _passes(score: float | None, threshold: float | None, maximize: bool) -> bool:
    if threshold is None:
        return True
    if score is None:
        return False
    return score >= threshold if maximize else score <= threshold


def _tampered(evaluation: Evaluation, integrity: Any) -> Evaluation:
    """A task file changed while this program was evaluated: its result cannot be trusted."""
    if integrity is None:
        return evaluation
    try:
        integrity.check()
    except IntegrityError as exc:  # record the attempt as an error, then the run stops (`integrity.violation`)
        return dataclasses.replace(evaluation, status="error", result=None,
                                   reason=f"the task files changed during this evaluation ({exc})")
    return evaluation


def evaluate_staged(task: Any, executor: Executor, code: str, extra_args: dict[str, Any] | None = None,
                    integrity: Any = None) -> Evaluation:
    """Run every stage in order (one plain evaluation when the task declares none). With an
    `integrity` checker, the task files are checked after every stage."""
    stages = task.config.evaluator.stages
    extra = dict(extra_args or {})
    if not stages:
        return _tampered(executor.evaluate(request_for(task, code, **extra)), integrity)
    stage_scores: dict[str, Any] = {}
    evaluation: Evaluation | None = None
    costs = []
    for i, stage in enumerate(stages):
        evaluation = _tampered(executor.evaluate(request_for(task, code, **{**stage.args, **extra})), integrity)
        costs.append(evaluation.cost)
        last = i == len(stages) - 1
        if evaluation.status != "ok" or evaluation.result is None:
            evaluation.reason = f"stage '{stage.name}': {evaluation.reason}"
            break
        score = evaluation.result.score
        stage_scores[f"stage_{stage.name}_score"] = score
        if not last and not _passes(score, stage.threshold, task.maximize):
            evaluation = dataclasses.replace(
                evaluation, status="invalid",
                reason=f"stopped at stage '{stage.name}': score {score:.6g} misses its threshold {stage.threshold}",
            )
            break
    assert evaluation is not None
    evaluation.cost = summed(costs)
    if evaluation.result is not None:
        evaluation.result.metrics = {**stage_scores, **(evaluation.result.metrics or {})}
    return evaluation
