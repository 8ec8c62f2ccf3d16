"""Where evaluations run. One protocol; local processes by default, Ray for a cluster.

An executor receives plain data (task folder, code, limits) and returns an `Evaluation`; it never
ships the database or the population to a worker.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..sandbox import Evaluation


@dataclass
class EvaluationRequest:
    """Everything needed to evaluate one program, as plain data."""

    task_path: str
    code: str
    program_filename: str = "initial.py"
    entry: str | None = None            # a folder program: the module candidate.call imports (task.yaml entry:)
    build: list[str] = field(default_factory=list)   # the argv candidate.build() runs (task.yaml build:)
    timeout: float = 120.0
    isolation: str = "auto"
    memory_mb: int = 2048
    disk_mb: int = 1024
    cpu_seconds: int = 0
    cpu_budget_s: float | None = None   # evaluator.cpu_budget_s: CPU of all candidate calls together
    max_output_kb: int = 256
    warm: bool = True                   # evaluator.warm: candidate calls forked from a warm zygote where it holds
    warm_host: bool = True              # evaluator.warm_host: the evaluation forked from a warm evaluator host
    host_evaluations: int = 100         # evaluator.host_evaluations: a warm host's evaluations before it is replaced
    stage_args: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, float] = field(default_factory=dict)


@runtime_checkable
class Executor(Protocol):
    """Evaluates requests; `evaluate` blocks and is called from several threads at once."""

    name: str

    def evaluate(self, request: EvaluationRequest) -> Evaluation: ...
    def close(self) -> None: ...


def request_for(task: Any, code: str, **stage_args: Any) -> EvaluationRequest:
    cfg = task.config
    return EvaluationRequest(
        task_path=str(Path(task.path)), code=code, program_filename=cfg.program, entry=cfg.entry,
        build=list(cfg.build), timeout=cfg.evaluator.timeout,
        isolation=cfg.evaluator.isolation, memory_mb=cfg.evaluator.memory_mb, disk_mb=cfg.evaluator.disk_mb,
        cpu_seconds=cfg.evaluator.cpu_seconds, cpu_budget_s=cfg.evaluator.cpu_budget_s,
        max_output_kb=cfg.evaluator.max_output_kb, warm=cfg.evaluator.warm, stage_args=stage_args,
        warm_host=cfg.evaluator.warm_host, host_evaluations=cfg.evaluator.host_evaluations,
        resources=dict(cfg.evaluator.resources),
    )


def create_executor(spec: str | None) -> Executor:
    """``local`` (default), ``ray`` (start or join a local cluster) or ``ray://HOST:PORT``."""
    spec = (spec or "local").strip()
    if spec == "local":
        from .local import LocalExecutor

        return LocalExecutor()
    if spec == "ray" or spec.startswith(("ray://", "ray?")):
        from .ray_executor import RayExecutor

        return RayExecutor(address=None if spec == "ray" else spec)
    from ..errors import UserError

    raise UserError(f"unknown executor {spec!r}: use 'local', 'ray' or 'ray://HOST:PORT'")
