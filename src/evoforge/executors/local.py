"""Evaluations in local subprocesses (the default executor)."""
from __future__ import annotations

from pathlib import Path

from ..sandbox import Evaluation, SandboxLimits, evaluate_code, warm
from .base import EvaluationRequest


def run_request(request: EvaluationRequest) -> Evaluation:
    """Evaluate one request on this machine: the trusted evaluator in its own process, the
    candidate in a sandboxed one. Shared by every executor that ends up on some machine."""
    warm.apply_config(request.warm)   # a worker on another machine reads it from the request
    limits = SandboxLimits(
        memory_mb=request.memory_mb,
        disk_mb=request.disk_mb,
        cpu_seconds=request.cpu_seconds or None,
        max_output_bytes=request.max_output_kb * 1024,
    )
    return evaluate_code(
        Path(request.task_path), request.code, program_filename=request.program_filename,
        entry=request.entry, build=request.build,
        warm_host=request.warm_host, host_evaluations=request.host_evaluations,
        timeout=request.timeout, limits=limits, isolation=request.isolation,
        stage_args=request.stage_args or None, cpu_budget_s=request.cpu_budget_s,
    )


class LocalExecutor:
    name = "local"

    def evaluate(self, request: EvaluationRequest) -> Evaluation:
        return run_request(request)

    def close(self) -> None:
        pass
