"""The trusted evaluator host: score one program with a task's `evaluate.py`.

The evaluator is trusted (it is the user's) but not *reliable*: it may hang, crash, segfault in
a C extension, or leak memory. So it never runs in the engine's process: `evaluate_code` starts
`python -m evoforge.sandbox._host_worker` in its own session (and cgroup when available),
gives it the spec on stdin, reads the answer from a dedicated pipe (never by parsing stdout),
and kills the whole tree on timeout. The evaluator in turn runs candidate code only through
`Candidate`, in separate sandboxed processes. By default (``evaluator.warm_host``) that process
is a fork of a warm host that imported evaluate.py already (`host_pool`, `_host_server`): the
same spec, pipes, timeout, kill and answer, without an interpreter start per evaluation.

Outcomes (`Evaluation.status`): "ok" (valid Result with a finite score), "invalid"
(`Result.invalid(...)`, or a non-finite score), "error" (candidate crash surfacing through
`candidate.call`, evaluator bug, wrong return type, broken evaluate.py), "timeout".
A candidate over its CPU budget (`CandidateBudgetExceeded` left uncaught, or
``evaluator.cpu_budget_s`` passed by all its calls together) is "invalid", with the figures.
`Evaluation.cost` is what the candidate's calls cost (`CallCost`, measured by the host), or None
when the evaluator never answered (timeout, crash) or never made a call.
"""
from __future__ import annotations

import ast
import json
import os
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evoforge.errors import TaskError
from evoforge.sandbox import host_pool, warm
from evoforge.sandbox._call_worker import dumps
from evoforge.sandbox._cgroup import Cgroup
from evoforge.sandbox._process import RESULT_FD_PLACEHOLDER, ProcessOutcome, run_process
from evoforge.sandbox._scratch import Scratch, sweep_once
from evoforge.sandbox.candidate import tail_text
from evoforge.sandbox.cost import CallCost, check_cpu_budget
from evoforge.sandbox.isolation import recipe_for, resolve_isolation
from evoforge.sandbox.limits import SandboxLimits, make_preexec
from evoforge.sandbox.result import Result

STATUSES = ("ok", "invalid", "error", "timeout")
_SRC_DIR = str(Path(__file__).resolve().parents[2])  # the directory holding `evoforge/`


@dataclass
class Evaluation:
    """What happened when a program was evaluated; `reason` is written for a human (and for
    the model's next prompt), e.g. "candidate raised ZeroDivisionError: ... (line 12)"."""

    status: str
    result: Result | None = None
    reason: str = ""
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    artifacts: dict[str, str] = field(default_factory=dict)
    isolation: str = ""
    cost: CallCost | None = None   # what the candidate's calls cost, all together

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def score(self) -> float | None:
        return self.result.score if self.status == "ok" and self.result else None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "result": self.result.to_json() if self.result else None,
                "reason": self.reason, "stdout": self.stdout, "stderr": self.stderr,
                "seconds": self.seconds, "artifacts": dict(self.artifacts),
                "isolation": self.isolation,
                "cost": self.cost.to_json() if self.cost is not None else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Evaluation":
        result = data.get("result")
        return cls(status=data["status"], result=Result.from_json(result) if result else None,
                   reason=data.get("reason", ""), stdout=data.get("stdout", ""),
                   stderr=data.get("stderr", ""), seconds=float(data.get("seconds", 0.0)),
                   artifacts=dict(data.get("artifacts") or {}),
                   isolation=data.get("isolation", ""),
                   cost=CallCost.from_json(data["cost"]) if data.get("cost") else None)


def load_evaluator_check(task_dir: str | Path) -> None:
    """Raise TaskError if `task_dir/evaluate.py` is missing, does not parse, or defines no
    `evaluate` function. Static (ast) only: no user code runs in the engine's process."""
    path = Path(task_dir) / "evaluate.py"
    if not path.is_file():
        raise TaskError(f"{path} not found: a task folder needs an evaluate.py defining "
                        "evaluate(candidate) -> Result")
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as exc:
        raise TaskError(f"{path} has a syntax error at line {exc.lineno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise TaskError(f"cannot read {path}: {exc}") from None
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == "evaluate":
            args = node.args
            if not (args.posonlyargs or args.args or args.vararg):
                raise TaskError(f"{path}: evaluate() must take the candidate as its first "
                                "argument: def evaluate(candidate): ...")
            return
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "evaluate" for t in targets):
                return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((a.asname or a.name) == "evaluate" for a in node.names):
                return
    raise TaskError(f"{path} has no function evaluate: define "
                    "def evaluate(candidate) -> Result")


def evaluate_code(
    task_dir: str | Path,
    code: str,
    *,
    program_filename: str = "initial.py",
    entry: str | None = None,
    build: list[str] | None = None,
    timeout: float = 300,
    limits: SandboxLimits | None = None,
    isolation: str = "auto",
    stage_args: dict[str, Any] | None = None,
    cpu_budget_s: float | None = None,
    warm_host: bool | None = None,
    host_evaluations: int = host_pool.DEFAULT_MAX_EVALUATIONS,
) -> Evaluation:
    """Evaluate `code` with the task's `evaluate.py`, in a subprocess killed after `timeout`.

    `isolation`: "auto" (strongest available) or a level name ("bwrap", "unshare", "none")
    to use exactly; raises UserError if it is not available. `stage_args` are passed as
    keyword arguments to `evaluate()` when it accepts them (cascade stage, seed...).
    `cpu_budget_s` caps the CPU of all the candidate's calls in this evaluation together
    (``evaluator.cpu_budget_s``); the evaluator cannot raise it for one call.
    `entry` and `build` are a folder program's module for `candidate.call` and the argv of
    `candidate.build()` (task.yaml ``entry:`` and ``build:``).
    `warm_host` (``evaluator.warm_host``; None: on unless EVOFORGE_WARM_HOST=0): the process
    is a fork of a host that imported evaluate.py already, reused for at most
    `host_evaluations` evaluations (`host_pool`); otherwise a fresh interpreter.
    Never raises for anything the evaluator or the candidate does.
    """
    cpu_budget_s = check_cpu_budget(cpu_budget_s, "cpu_budget_s")
    if isinstance(host_evaluations, bool) or not isinstance(host_evaluations, int) \
            or host_evaluations < 1:
        raise ValueError(f"host_evaluations must be a positive integer, got {host_evaluations!r}")
    task_dir = Path(task_dir).resolve()
    limits = limits or SandboxLimits()
    level = resolve_isolation(isolation)
    if not (task_dir / "evaluate.py").is_file():
        return Evaluation("error", reason=f"evaluate.py not found in {task_dir}",
                          isolation=level.name.lower())
    sweep_once()  # scratch dirs and cgroups left behind by killed engine processes
    scratch = Scratch("eval")
    spec = {
        "task_dir": str(task_dir), "code": code, "program_filename": program_filename,
        "entry": entry, "build": list(build or []),
        "isolation": level.name, "recipe": recipe_for(level), "limits": limits.to_json(),
        "stage_args": dict(stage_args or {}), "scratch": str(scratch.path),
        "cpu_budget_s": cpu_budget_s,
        # this process's warm zygotes (their control sockets are inherited): evaluations do
        # not pay a zygote start each (sandbox/warm.py)
        "warm": warm.handoff(level),
    }
    try:
        request = dumps(spec)
    except (TypeError, ValueError) as exc:
        scratch.remove()
        for entry in spec["warm"]:
            os.close(int(entry["fd"]))
        raise TypeError(f"stage_args must be JSON data: {exc}") from None
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_SRC_DIR, env.get("PYTHONPATH")) if p)
    cgroup = Cgroup.create() if limits.use_cgroups else None
    preexec = make_preexec([], cgroup_procs=cgroup.procs_files if cgroup else None)
    # -P: the task folder is never on the path ahead of evoforge, so a planted evoforge/ cannot take over
    argv = [sys.executable, "-P", "-m", "evoforge.sandbox._host_worker", RESULT_FD_PLACEHOLDER]
    host = (host_pool.host_for(task_dir, level, spec["recipe"], env,
                               max_evaluations=host_evaluations, timeout=timeout)
            if host_pool.enabled(warm_host) else None)
    try:
        out = _run_warm(host, request, spec, cgroup, timeout, limits) if host else None
        if out is None:   # cold: a fresh interpreter (or the warm host could not take it)
            out = run_process(argv, env=env, cwd=str(task_dir), timeout=timeout, stdin=request,
                              max_output=limits.max_output_bytes, result_pipe=True,
                              max_result=limits.max_result_bytes, preexec=preexec, cgroup=cgroup,
                              pass_fds=[int(entry["fd"]) for entry in spec["warm"]])
    finally:
        if cgroup is not None:
            cgroup.remove()  # also kills candidate sandboxes nested under the host's cgroup
        scratch.remove()
        for entry in spec["warm"]:
            os.close(int(entry["fd"]))   # the host had its own copies
    stdout = out.stdout.decode("utf-8", errors="replace")
    stderr = out.stderr.decode("utf-8", errors="replace")
    common = {"stdout": stdout, "stderr": stderr, "seconds": out.seconds,
              "isolation": level.name.lower()}
    if out.timed_out:
        return Evaluation("timeout", reason=f"evaluation timed out after {timeout:.1f}s "
                          "(evaluate() did not return)", **common)
    if out.result_too_large:
        return Evaluation("error", reason="the evaluator's answer is larger than "
                          f"{limits.max_result_bytes} bytes (huge artifacts?)", **common)
    if not out.result:
        return Evaluation("error", reason=_host_death(out.returncode, stderr), **common)
    try:
        answer = json.loads(out.result)
        evaluation = Evaluation(
            status=answer["status"],
            result=Result.from_json(answer["result"]) if answer.get("result") else None,
            reason=answer.get("reason", ""), artifacts=dict(answer.get("artifacts") or {}),
            cost=_cost_of(answer), **common)
    except (ValueError, KeyError, TypeError) as exc:
        return Evaluation("error", reason=f"the evaluator host sent a corrupt answer: {exc}",
                          **common)
    if evaluation.status not in STATUSES:
        return Evaluation("error", reason=f"unknown status {evaluation.status!r}", **common)
    if evaluation.status == "ok" and evaluation.result is not None:
        problem = evaluation.result.problem()  # re-checked here: trust, but verify
        if problem:
            evaluation.status, evaluation.reason = "invalid", problem
            evaluation.result.valid = False
    return evaluation


def _run_warm(host: host_pool.WarmHost, request: bytes, spec: dict[str, Any],
              cgroup: Cgroup | None, timeout: float, limits: SandboxLimits) -> ProcessOutcome | None:
    """The evaluation as a fork of `host` (same pipes, timeout, kill and answer as a cold
    host); None when the host could not take it (nothing started: it runs cold)."""
    def fork(stdin_piped: bool, result_w: int | None) -> Any:
        return host.spawn(stdin_piped, result_w, cgroup, spec["warm"])

    try:
        out = run_process([], env={}, cwd=spec["task_dir"], timeout=timeout, stdin=request,
                          max_output=limits.max_output_bytes, result_pipe=True,
                          max_result=limits.max_result_bytes, cgroup=cgroup, starter=fork)
    except host_pool.HostUnavailable:
        return None
    host.finished(bool(out.result) and out.returncode == 0 and not out.timed_out
                  and not out.result_too_large)
    return out


def _cost_of(answer: dict[str, Any]) -> CallCost | None:
    """The host's measurement of the candidate's calls (None when it made none)."""
    cost = answer.get("cost")
    if not cost:
        return None
    measured = CallCost.from_json(cost)
    return measured if measured.calls else None


def _host_death(returncode: int, stderr: str) -> str:
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        reason = f"the evaluator process died with {name}"
    else:
        reason = f"the evaluator process exited with code {returncode} without an answer"
    last = stderr.strip().splitlines()[-1:] if stderr.strip() else []
    if last:
        reason += ": " + tail_text(last[0], 300)
    return reason
