"""Subprocess entry of the evaluator host: ``python -m evoforge.sandbox._host_worker FD``.

Reads the spec (JSON) on stdin, imports the task's evaluate.py, runs ``evaluate(candidate)``
and writes ``{"status", "reason", "result", "artifacts", "cost"}`` as JSON to file descriptor
FD; ``cost`` is `candidate.total_cost`, what all the candidate's calls cost (measured here, so
it is known even when the evaluator does not report it). The evaluation's CPU budget
(``spec["cpu_budget_s"]``) is enforced here twice: by the Candidate while each call runs, and
once more after evaluate() returns, so an evaluator that catches `CandidateBudgetExceeded` and
scores anyway still gets an invalid attempt.
Everything that can go wrong is turned into a precise, human-readable reason here, where the
original objects (exception types, the returned value's type) are still available.
"""
from __future__ import annotations

import asyncio
import importlib.util
import inspect
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from evoforge.sandbox import host_pool, warm
from evoforge.sandbox._call_worker import dumps
from evoforge.sandbox.candidate import (
    Candidate,
    CandidateBudgetExceeded,
    CandidateError,
    CandidateTimeout,
    tail_text,
)
from evoforge.sandbox.cost import format_seconds
from evoforge.sandbox.isolation import IsolationLevel, set_recipe
from evoforge.sandbox.limits import SandboxLimits
from evoforge.sandbox.result import Result

ARTIFACT_LIMIT = 20_000


def _line_in(exc: BaseException, path: Path) -> int | None:
    lineno = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if os.path.abspath(frame.filename) == str(path):
            lineno = frame.lineno
    return lineno


def _import_evaluator(path: Path) -> tuple[Any, str | None]:
    if not path.is_file():
        return None, f"evaluate.py not found in {path.parent}"
    try:
        spec = importlib.util.spec_from_file_location("evaluate", path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["evaluate"] = module
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        return None, f"evaluate.py has a syntax error at line {exc.lineno}: {exc.msg}"
    except BaseException as exc:  # noqa: BLE001 - any failure is reported, not raised
        line = _line_in(exc, path)
        where = f" (evaluate.py line {line})" if line else ""
        return None, f"importing evaluate.py raised {type(exc).__name__}: {exc}{where}"
    return module, None


def _stage_kwargs(function: Any, stage_args: dict[str, Any]) -> dict[str, Any]:
    """The stage arguments `evaluate` accepts: all of them with **kwargs, else by name."""
    if not stage_args:
        return {}
    try:
        params = list(inspect.signature(function).parameters.values())[1:]
    except (TypeError, ValueError):
        return {}
    if any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params):
        return dict(stage_args)
    names = {p.name for p in params
             if p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)}
    return {k: v for k, v in stage_args.items() if k in names}


def _candidate_artifacts(candidate: Candidate) -> dict[str, str]:
    artifacts = {}
    if candidate.last_stdout.strip():
        artifacts["candidate_stdout"] = tail_text(candidate.last_stdout, ARTIFACT_LIMIT)
    if candidate.last_stderr.strip():
        artifacts["candidate_stderr"] = tail_text(candidate.last_stderr, ARTIFACT_LIMIT)
    return artifacts


def import_evaluator(task_dir: str | Path) -> tuple[Any, str | None]:
    """Import `task_dir/evaluate.py` as the module ``evaluate``: (module, None), or (None, the
    reason it failed, worded for the attempt's record)."""
    return _import_evaluator(Path(task_dir) / "evaluate.py")


def evaluate_spec(spec: dict[str, Any],
                  imported: tuple[Any, str | None] | None = None) -> dict[str, Any]:
    """Run one evaluation described by `spec`; return the answer dict (never raises).
    `imported` is evaluate.py as `import_evaluator` already loaded it (a warm host's fork),
    else it is imported here."""
    path = Path(spec["task_dir"]) / "evaluate.py"
    level = IsolationLevel[spec["isolation"]]
    set_recipe(level, spec.get("recipe"))
    warm.adopt(level, list(spec.get("warm") or []))
    limits = SandboxLimits.from_json(spec.get("limits"))
    module, problem = imported if imported is not None else _import_evaluator(path)
    if problem:
        return {"status": "error", "reason": problem}
    function = getattr(module, "evaluate", None)
    if function is None:
        return {"status": "error", "reason": "evaluate.py has no function evaluate"}
    if not callable(function):
        return {"status": "error", "reason": f"evaluate in evaluate.py is a "
                f"{type(function).__name__}, not a function"}
    kwargs = _stage_kwargs(function, spec.get("stage_args") or {})
    budget = spec.get("cpu_budget_s")
    with Candidate.create(spec["code"], filename=spec.get("program_filename", "initial.py"),
                          isolation=level, limits=limits, parent_dir=spec["scratch"],
                          cpu_budget_s=budget, entry=spec.get("entry"), build=spec.get("build") or ()) as cand:
        answer = _run_evaluator(function, cand, kwargs, path)
        answer["cost"] = cand.total_cost.to_json()
        used = cand.total_cost.cpu_s
        if budget is not None and used > budget and answer["status"] != "invalid":
            if answer.get("result"):
                answer["result"]["valid"] = False  # its metrics are kept, its score does not count
            answer.update(status="invalid", reason=(
                f"the candidate used {format_seconds(used)} CPU in this evaluation, budget "
                f"{format_seconds(budget)} (evaluator.cpu_budget_s)"))
    return answer


def _run_evaluator(function: Any, cand: Candidate, kwargs: dict[str, Any],
                   path: Path) -> dict[str, Any]:
    """Call evaluate(cand, **kwargs) and turn whatever happens into the answer dict."""
    try:
        value = function(cand, **kwargs)
        if inspect.isawaitable(value):
            value = asyncio.run(_wait(value))
    except CandidateBudgetExceeded as exc:  # uncaught: the attempt is invalid, not an error
        return {"status": "invalid", "reason": exc.summary,
                "artifacts": _candidate_artifacts(cand)}
    except CandidateTimeout as exc:
        return {"status": "timeout", "reason": exc.summary,
                "artifacts": _candidate_artifacts(cand)}
    except CandidateError as exc:
        artifacts = _candidate_artifacts(cand)
        if exc.traceback:
            artifacts["candidate_traceback"] = tail_text(exc.traceback, ARTIFACT_LIMIT)
        return {"status": "error", "reason": exc.summary, "artifacts": artifacts}
    except BaseException as exc:  # noqa: BLE001 - an evaluator bug is an outcome too
        line = _line_in(exc, path)
        where = f" (evaluate.py line {line})" if line else ""
        artifacts = _candidate_artifacts(cand)
        artifacts["evaluator_traceback"] = tail_text(traceback.format_exc(), ARTIFACT_LIMIT)
        return {"status": "error", "artifacts": artifacts,
                "reason": f"evaluate() raised {type(exc).__name__}: {exc}{where}"}
    artifacts = _candidate_artifacts(cand)
    if not isinstance(value, Result):
        kind = "None" if value is None else type(value).__name__
        return {"status": "error", "artifacts": artifacts,
                "reason": f"evaluate() returned {kind}, expected evoforge.Result"}
    for key, text in artifacts.items():
        value.artifacts.setdefault(key, text)
    if not value.valid:
        return {"status": "invalid", "result": value.to_json(), "artifacts": artifacts,
                "reason": value.feedback or "the evaluator marked the candidate invalid"}
    problem = value.problem()
    if problem:
        value.valid = False
        return {"status": "invalid", "result": value.to_json(), "artifacts": artifacts,
                "reason": problem}
    return {"status": "ok", "result": value.to_json(), "artifacts": artifacts, "reason": ""}


async def _wait(awaitable: Any) -> Any:
    return await awaitable


def main(argv: list[str]) -> None:
    answer_and_exit(int(argv[1]))


def answer_and_exit(result_fd: int, imported: tuple[Any, str | None] | None = None,
                    warm_entries: list[dict[str, Any]] | None = None) -> None:
    """Read the spec on stdin, evaluate it, write the answer to `result_fd` and exit: the
    whole life of a cold host, and of each evaluation a warm host forks (`_host_server`, which
    passes evaluate.py as it imported it and the zygote descriptors as it placed them)."""
    os.set_inheritable(result_fd, False)
    out = os.fdopen(result_fd, "wb")
    spec = json.loads(sys.stdin.buffer.read())
    if warm_entries is not None:
        spec["warm"] = warm_entries
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    try:
        answer = evaluate_spec(spec, imported)
        data = dumps(answer)
    except BaseException as exc:  # noqa: BLE001 - a bug here must still produce an answer
        data = dumps({"status": "error", "reason": f"evaluator host failed: "
                      f"{type(exc).__name__}: {exc}",
                      "artifacts": {"host_traceback": tail_text(traceback.format_exc(), 20_000)}})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001
            pass
    out.write(data)
    out.close()
    warm.shutdown_all()   # os._exit skips atexit: no zygote of ours may outlive us
    host_pool.shutdown_all()   # nor a warm host of evaluations we ran (an outer loop's inner runs)
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
