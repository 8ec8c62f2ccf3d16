"""`Candidate`: the handle a task's trusted `evaluate(candidate)` uses to run untrusted code.

The evaluator never imports the candidate: `call()` runs one function in a fresh sandboxed
process and brings back plain data, `run()` runs a command. What each costs (wall time, CPU of
the whole process tree, peak memory) is measured by the parent (`last_cost`, `total_cost`), and
a CPU budget (per call, and for the whole evaluation) ends a call that goes over it with
`CandidateBudgetExceeded`: candidate code cannot change either, it runs in another process.
Each Candidate owns a fresh directory (removed by `close()`):

    root/program/   the candidate file; the only writable place in the sandbox, cwd and HOME
    root/runtime/   a copy of `_call_worker.py`, mounted read-only under bwrap

A folder program (a bundle, `evoforge.bundle`) is laid out in ``root/program/`` exactly as its
folder was (``solver/main.py`` is ``root/program/solver/main.py``); `call()` imports the module
named by `entry` (task.yaml ``entry:``) with that folder first on the path, `build()` runs the
task's ``build:`` command there, and ``{program}`` in `run()` is the folder.
"""
from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evoforge.bundle import is_bundle, language_of, module_file, write_folder
from evoforge.errors import EvoforgeError
from evoforge.sandbox import _call_worker, warm
from evoforge.sandbox._cgroup import Cgroup
from evoforge.sandbox._process import RESULT_FD_PLACEHOLDER, ProcessOutcome, run_process
from evoforge.sandbox._scratch import Scratch, sweep_once
from evoforge.sandbox._watchdog import TreeWatchdog
from evoforge.sandbox.cost import NO_COST, CallCost, check_cpu_budget, format_seconds
from evoforge.sandbox.isolation import (
    IsolationLevel,
    clean_env,
    resolve_isolation,
    wrap_command,
)
from evoforge.sandbox.limits import (
    SandboxLimits,
    cpu_hard_limit,
    make_preexec,
    rlimits_for,
)



class CandidateError(EvoforgeError):
    """The candidate failed: raised an exception, crashed, or returned something unusable.

    `exc_type`, `lineno` and `traceback` describe the candidate's own exception when there was
    one; `summary` is a one-line reason ("candidate raised ZeroDivisionError: ... (line 12)").
    """

    def __init__(self, summary: str, *, function: str | None = None,
                 exc_type: str | None = None, lineno: int | None = None,
                 traceback: str = "", stdout: str = "", stderr: str = "") -> None:
        message = summary
        if traceback:
            message += "\n" + tail_text(traceback, 3000)
        super().__init__(message)
        self.summary = summary
        self.function = function
        self.exc_type = exc_type
        self.lineno = lineno
        self.traceback = traceback
        self.stdout = stdout
        self.stderr = stderr


class CandidateTimeout(CandidateError):
    """The candidate did not finish in time; its whole process tree was killed."""

    def __init__(self, summary: str, *, timeout: float, function: str | None = None,
                 stdout: str = "", stderr: str = "") -> None:
        super().__init__(summary, function=function, stdout=stdout, stderr=stderr)
        self.timeout = timeout


class CandidateBudgetExceeded(CandidateError):
    """The candidate's process tree used more CPU than its budget; it was killed on crossing it.

    `cpu_s` is what it used (measured from outside), `budget_s` the budget that applied, and
    `scope` says whose budget: "call" (`cpu_budget_s=` of this call) or "evaluation"
    (``evaluator.cpu_budget_s``, the CPU of every call of one evaluation together). Uncaught,
    it makes the attempt invalid with `summary` as the reason.
    """

    def __init__(self, summary: str, *, cpu_s: float, budget_s: float, scope: str,
                 function: str | None = None, stdout: str = "", stderr: str = "") -> None:
        super().__init__(summary, function=function, stdout=stdout, stderr=stderr)
        self.cpu_s = cpu_s
        self.budget_s = budget_s
        self.scope = scope


@dataclass
class CompletedRun:
    """Outcome of `Candidate.run`: like subprocess.CompletedProcess, plus timing and `cost`."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    timed_out: bool
    raw_stdout: bytes = b""
    limit_exceeded: str = ""   # e.g. "disk limit exceeded (...)": the tree was killed for it
    cost: CallCost = NO_COST   # wall, CPU of the process tree, peak memory (measured outside)


def tail_text(text: str, limit: int) -> str:
    return text if len(text) <= limit else "..." + text[-limit:]


def _signal_name(returncode: int) -> str:
    try:
        return signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


class Candidate:
    """One candidate program, materialised in a fresh private directory.

    Build it with `Candidate.create(code, ...)` (also a context manager). `cpu_budget_s` is
    the CPU (seconds, whole process trees) all its calls together may use; None = no budget.
    """

    def __init__(self, code: str, scratch: Scratch, *, filename: str = "initial.py",
                 language: str | None = None, isolation: str | IsolationLevel = "auto",
                 limits: SandboxLimits | None = None, cpu_budget_s: float | None = None,
                 entry: str | None = None, build: Sequence[str] = ()) -> None:
        self._cpu_budget = check_cpu_budget(cpu_budget_s, "cpu_budget_s")
        self.code = code
        self._scratch = scratch
        self.root = scratch.path
        self.work_dir = self.root / "program"
        self.runtime_dir = self.root / "runtime"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.runtime_dir.mkdir(parents=True, exist_ok=True)
        self.entry = entry
        self.build_command = [str(a) for a in build]
        self.is_folder = is_bundle(code)
        if self.is_folder:   # a folder program: its files, laid out as in its folder
            self.files = [p.relative_to(self.work_dir).as_posix() for p in write_folder(code, self.work_dir)]
            self.path = self.work_dir
            entry_file = module_file(entry, self.files) if entry else None
            if entry and entry_file is None:
                raise ValueError(f"entry {entry!r}: the program has no module of that name")
            self.import_target = (_call_worker.module_target(entry, str(self.work_dir)) if entry
                                  else str(self.work_dir))
            self.language = language or (language_of(entry_file) if entry_file else "folder")
        else:
            self.path = self.work_dir / Path(filename).name
            self.path.write_text(code, encoding="utf-8")
            os.chmod(self.path, 0o755)
            self.files = [self.path.name]
            self.import_target = str(self.path)   # what the call worker imports
            self.language = language or language_of(self.path.name)
        self._worker = self.runtime_dir / "evoforge_call_worker.py"
        shutil.copyfile(_call_worker.__file__, self._worker)
        self.isolation = (isolation if isinstance(isolation, IsolationLevel)
                          else resolve_isolation(isolation))
        self.limits = limits or SandboxLimits()
        self.last_stdout = ""
        self.last_stderr = ""
        self.last_seconds = 0.0
        self.total_seconds = 0.0
        self.n_calls = 0
        self.last_cost: CallCost = NO_COST   # the latest call or run
        self.total_cost: CallCost = NO_COST  # every call and run of this candidate so far
        self._cpu_limit: int | None = None
        self._closed = False
        self.last_warm = False   # whether the latest call or run was forked from a zygote
        self.n_warm_calls = 0    # how many calls and runs were

    @classmethod
    def create(cls, code: str, *, filename: str = "initial.py", language: str | None = None,
               isolation: "str | IsolationLevel" = "auto", limits: SandboxLimits | None = None,
               parent_dir: str | Path | None = None,
               cpu_budget_s: float | None = None, entry: str | None = None,
               build: Sequence[str] = ()) -> "Candidate":
        """Write `code` into a fresh directory under `parent_dir` (default: the temp dir);
        `cpu_budget_s` caps the CPU of all its calls together (see the class docstring).
        A bundle `code` is written as its folder; `entry` is the module `call()` imports,
        `build` the argv `build()` runs."""
        level = isolation if isinstance(isolation, IsolationLevel) else resolve_isolation(
            isolation)
        if parent_dir is None:
            sweep_once()  # directories left by killed processes
        scratch = Scratch("cand", parent_dir)
        try:
            return cls(code, scratch, filename=filename, language=language, isolation=level,
                       limits=limits, cpu_budget_s=cpu_budget_s, entry=entry, build=build)
        except BaseException:
            scratch.remove()
            raise

    def close(self) -> None:
        """Remove the candidate's directory (and everything the candidate wrote)."""
        if not self._closed:
            self._closed = True
            self._scratch.remove()

    def __enter__(self) -> "Candidate":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Candidate(path={str(self.path)!r}, language={self.language!r})"

    # -- running ------------------------------------------------------------------------------
    @property
    def cpu_budget_s(self) -> float | None:
        """The CPU seconds all calls of this candidate may use together (None: no budget)."""
        return self._cpu_budget

    def _budget_for(self, call_budget: float | None) -> tuple[float | None, str]:
        """The CPU budget of the next call and whose it is: the call's own or, when less is
        left of it, what remains of the evaluation's."""
        options = []
        if call_budget is not None:
            options.append((call_budget, "call"))
        if self._cpu_budget is not None:
            options.append((self._cpu_budget - self.total_cost.cpu_s, "evaluation"))
        return min(options) if options else (None, "")

    def _over_budget(self, what: str, used: float, budget: float, scope: str,
                     killed: bool = True, started: bool | None = None) -> CandidateBudgetExceeded:
        """The exception for a call over its budget (`sandbox.interactive` uses it too).
        `started` defaults to `killed`: a call that was not killed was, by default, refused."""
        started = killed if started is None else started
        if scope == "call":
            whose = "cpu_budget_s of the call"
        elif not started:
            whose = "evaluator.cpu_budget_s, for the whole evaluation"
        else:
            whose = (f"what was left of evaluator.cpu_budget_s = "
                     f"{format_seconds(self._cpu_budget or 0.0)} for the whole evaluation")
        summary = (f"{what} used {format_seconds(used)} CPU, budget {format_seconds(max(budget, 0.0))} "
                   f"({whose})")
        if killed:
            summary += ": the candidate's process tree was killed"
        elif started:
            summary += ": it ended over its budget"
        return CandidateBudgetExceeded(summary, cpu_s=used, budget_s=max(budget, 0.0), scope=scope,
                                       stdout=self.last_stdout, stderr=self.last_stderr)

    def _spawn(self, argv: Sequence[str], *, stdin: bytes | None, timeout: float,
               result_pipe: bool, cpu_budget_s: float | None = None,
               what: str = "the candidate", program: str | None = None) -> ProcessOutcome:
        if self._closed:
            raise RuntimeError("this Candidate is closed")
        if not timeout or timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        budget, scope = self._budget_for(check_cpu_budget(cpu_budget_s))
        if budget is not None and budget <= 0:
            raise self._over_budget(f"{what} was not started: the evaluation's calls already",
                                    self.total_cost.cpu_s, self._cpu_budget or 0.0, scope,
                                    killed=False, started=False)
        limits = self.limits
        if budget is not None:
            # A per-process backstop in whole seconds; the watchdog stops the tree at `budget`.
            base = limits.cpu_seconds if limits.cpu_seconds is not None else timeout + 1.0
            if budget + 1.0 < base:
                limits = dataclasses.replace(limits, cpu_seconds=budget + 1.0)
        cgroup = (Cgroup.create(limits.max_processes, limits.memory_mb) if limits.use_cgroups
                  else None)
        try:
            rlimits = rlimits_for(limits, timeout,
                                  pids_by_cgroup=cgroup is not None and cgroup.limits_pids)
            self._cpu_limit = cpu_hard_limit(rlimits)
            preexec = make_preexec(rlimits, cgroup_procs=cgroup.procs_files if cgroup else None)
            wrapped = wrap_command(self.isolation, argv, work_dir=str(self.work_dir),
                                   ro_dirs=[str(self.runtime_dir)])
            watchdog: TreeWatchdog | None = None

            def run(starter: Any) -> ProcessOutcome:
                nonlocal watchdog   # one per attempt: a warm one that failed to start is redone cold
                # Under bwrap the work dir is the only writable place on disk (/tmp is a capped
                # tmpfs, memory); under unshare/none it is the only place we can attribute.
                watchdog = TreeWatchdog(cgroup=cgroup, disk_dirs=[str(self.work_dir)],
                                        disk_mb=limits.disk_mb, memory_mb=limits.memory_mb,
                                        cpu_budget_s=budget)
                return run_process(
                    wrapped, env=clean_env(str(self.work_dir)), cwd=str(self.work_dir),
                    timeout=timeout, stdin=stdin, max_output=limits.max_output_bytes,
                    result_pipe=result_pipe, max_result=limits.max_result_bytes,
                    preexec=preexec, cgroup=cgroup, watchdog=watchdog, starter=starter)

            outcome, self.last_warm = warm.run_warm_or_cold(
                run, self._warm_plan(argv, program, rlimits, limits), cgroup)
            self.n_warm_calls += self.last_warm
        finally:
            if cgroup is not None:
                cgroup.remove()
        self.last_stdout = outcome.stdout.decode("utf-8", errors="replace")
        self.last_stderr = outcome.stderr.decode("utf-8", errors="replace")
        if outcome.limit_exceeded:
            self.last_stderr += f"\n[evoforge sandbox] {outcome.limit_exceeded}\n"
        self.last_seconds = outcome.seconds
        self.total_seconds += outcome.seconds
        self.n_calls += 1
        peak = outcome.peak_memory_bytes
        self.last_cost = CallCost(wall_s=outcome.seconds, cpu_s=outcome.cpu_seconds or 0.0,
                                  peak_memory_mb=peak / (1 << 20) if peak else None)
        self.total_cost = self.total_cost + self.last_cost
        if budget is not None and self.last_cost.cpu_s > budget:
            raise self._over_budget(what, self.last_cost.cpu_s, budget, scope,
                                    killed=watchdog is not None and watchdog.cpu_exceeded)
        return outcome

    def _warm_plan(self, argv: Sequence[str], program: str | None,
                   rlimits: list[tuple[int, tuple[int, int]]],
                   limits: SandboxLimits) -> tuple[warm.Zygote, warm.CallSpec] | None:
        """The zygote and spec to fork this call from (`warm.py`), or None to start it cold
        (warm is off or unsupported at this level, or the zygote cannot serve this candidate)."""
        zygote = warm.zygote_for(self.isolation, limits.memory_mb)
        if zygote is None:
            return None
        spec = warm.call_spec(zygote, str(self.work_dir), str(self.runtime_dir), rlimits,
                              program, argv)
        return None if spec is None else (zygote, spec)

    def call(self, function: str, *args: Any, timeout: float = 60,
             cpu_budget_s: float | None = None, **kwargs: Any) -> Any:
        """Run `function(*args, **kwargs)` of the candidate program in a fresh sandboxed
        process and return its value as plain data (lists, dicts, numbers, numpy arrays).

        Raises CandidateTimeout after `timeout` seconds (wall clock, measured here, including
        interpreter start-up and import of the program), CandidateBudgetExceeded when its
        process tree uses more than `cpu_budget_s` CPU seconds (or more than is left of the
        evaluation's budget), CandidateError when the candidate raises, crashes, or returns
        something that is not plain data. `last_cost` says what the call cost, in every case.
        """
        if self.is_folder and self.entry is None:
            raise TypeError("call() on a folder program imports the module named by entry: in task.yaml "
                            "(e.g. entry: solver.main); none is set")
        if self.language != "python":
            raise TypeError(f"call() runs Python programs; this candidate is {self.language}: "
                            "use candidate.run([...]) instead")
        if not isinstance(function, str) or not function.isidentifier():
            raise ValueError(f"function must be a Python identifier, got {function!r}")
        try:
            request = _call_worker.dumps({
                "function": function,
                "args": _call_worker.encode(list(args), "args"),
                "kwargs": _call_worker.encode(kwargs, "kwargs"),
            })
        except _call_worker.EncodeError as exc:
            raise TypeError(f"cannot send arguments to the candidate: {exc}") from None
        argv = [sys.executable, "-B", str(self._worker), self.import_target, RESULT_FD_PLACEHOLDER]
        out = self._spawn(argv, stdin=request, timeout=timeout, result_pipe=True,
                          cpu_budget_s=cpu_budget_s, what=f"{function}()",
                          program=self.import_target)
        ctx = {"function": function, "stdout": self.last_stdout, "stderr": self.last_stderr}
        if out.timed_out:
            raise CandidateTimeout(f"candidate timed out after {timeout:.1f}s in {function}()",
                                   timeout=timeout, **ctx)
        if out.limit_exceeded:
            raise CandidateError(f"{out.limit_exceeded} in {function}()", **ctx)
        if out.result_too_large:
            raise CandidateError(f"the value returned by {function}() is larger than the "
                                 f"{self.limits.max_result_bytes} bytes allowed", **ctx)
        if not out.result:
            raise CandidateError(self._death_reason(out, function), **ctx)
        # The answer was written by untrusted code: decode defensively.
        try:
            response = json.loads(out.result)
            if not isinstance(response, dict):
                raise ValueError("not an object")
            if response.get("ok") is True:
                return _call_worker.decode(response.get("value"))
            error = response.get("error")
            if not isinstance(error, dict):
                raise ValueError("no error description")
        except Exception as exc:  # ValueError, RecursionError, numpy errors...
            raise CandidateError(f"the candidate process sent a corrupt answer for "
                                 f"{function}(): {type(exc).__name__}: {exc}"[:500],
                                 **ctx) from None
        raise self._error_from(error, function, ctx)

    def run(self, argv: list[str], stdin: str | bytes | None = None,
            timeout: float = 60, cpu_budget_s: float | None = None) -> CompletedRun:
        """Run a command in the sandbox (cwd = the program's directory). `{program}` in argv
        is replaced by the candidate's path. A timeout kills it and sets `timed_out`; going
        over `cpu_budget_s` (or what is left of the evaluation's budget) kills it and raises
        CandidateBudgetExceeded. `CompletedRun.cost` (and `last_cost`) say what it cost."""
        if isinstance(argv, str):
            raise TypeError("argv must be a list of strings, e.g. ['python3', '{program}']")
        argv = [str(a).replace("{program}", str(self.path)) for a in argv]
        data = stdin.encode("utf-8") if isinstance(stdin, str) else stdin
        name = os.path.basename(argv[0]) if argv else "?"
        out = self._spawn(argv, stdin=data, timeout=timeout, result_pipe=False,
                          cpu_budget_s=cpu_budget_s, what=f"the command {name!r}")
        return CompletedRun(returncode=out.returncode, stdout=self.last_stdout,
                            stderr=self.last_stderr, seconds=out.seconds,
                            timed_out=out.timed_out, raw_stdout=out.stdout,
                            limit_exceeded=out.limit_exceeded or "", cost=self.last_cost)

    def build(self, timeout: float = 120, cpu_budget_s: float | None = None) -> CompletedRun:
        """Run the task's build command (task.yaml ``build:``, e.g. ``[make]``) in the sandbox,
        in the program's folder, under the same limits as any `run()`. Raises CandidateError
        when it fails (a non-zero exit, a timeout, a limit), naming the last line it printed:
        a program that does not build is the candidate's fault, not the evaluator's."""
        if not self.build_command:
            raise ValueError("task.yaml sets no build: command (e.g. build: [make])")
        out = self.run(self.build_command, timeout=timeout, cpu_budget_s=cpu_budget_s)
        if out.timed_out or out.limit_exceeded or out.returncode != 0:
            why = ("timed out" if out.timed_out else out.limit_exceeded or f"exit code {out.returncode}")
            lines = (out.stderr.strip() or out.stdout.strip()).splitlines()
            named = [ln for ln in lines if "error" in ln.lower()] or lines[-1:]   # a compiler's first error
            last = f": {tail_text(named[0], 300)}" if named else ""
            raise CandidateError(f"the build command {' '.join(self.build_command)!r} failed ({why}){last}",
                                 stdout=out.stdout, stderr=out.stderr)
        return out

    def interact(self, target: "str | list[str]", oracle: Any, *args: Any, max_queries: int,
                 timeout: float = 60, **kwargs: Any) -> Any:
        """Let the candidate query `oracle` (a trusted callable of the evaluator, never sent
        to the sandbox) at most `max_queries` times; returns an `Interaction` (`.value`,
        `.queries`, `.log`, `.stopped`). `target` is a function name of a Python candidate,
        called as ``target(query, *args, **kwargs)``, or an argv list for a program of any
        language talking the ``? query`` / ``! answer`` line protocol (then `stdin=` is sent
        first). See `evoforge.sandbox.interactive` for the protocol and the errors."""
        from evoforge.sandbox import interactive

        if isinstance(target, str):
            return interactive.interact(self, target, oracle, *args, max_queries=max_queries,
                                        timeout=timeout, **kwargs)
        if args:
            raise TypeError("a program gets its input through stdin=..., not positional args")
        return interactive.interact_run(self, list(target), oracle, max_queries=max_queries,
                                        timeout=timeout, **kwargs)

    # -- reasons ------------------------------------------------------------------------------
    def _death_reason(self, out: ProcessOutcome, function: str) -> str:
        """Why the worker produced no answer: a signal, a limit, or an exit()."""
        rc = out.returncode
        if rc > 128 and self.isolation != IsolationLevel.NONE and rc - 128 < 65:
            rc = -(rc - 128)  # bwrap/unshare report a child killed by signal N as 128 + N
        if self._killed_by_cpu_limit(out, rc):
            return (f"candidate exceeded its CPU time limit (killed at the hard limit, "
                    f"{self._cpu_limit} CPU seconds) in {function}()")
        if rc < 0:
            name = _signal_name(rc)
            hint = {"SIGXCPU": " (CPU time limit exceeded)",
                    "SIGKILL": " (killed: memory limit or out of memory?)",
                    "SIGSEGV": " (segmentation fault)",
                    "SIGXFSZ": " (file size limit exceeded)"}.get(name, "")
            reason = f"candidate process died with {name}{hint} in {function}()"
        else:
            reason = (f"candidate process exited with code {rc} before returning from "
                      f"{function}()")
            if "MemoryError" in self.last_stderr:
                reason += " (memory limit exceeded)"
        stderr = self.last_stderr.strip()
        if stderr:
            reason += ": " + tail_text(stderr.splitlines()[-1], 300)
        return reason

    def _killed_by_cpu_limit(self, out: ProcessOutcome, rc: int) -> bool:
        """Whether the tree died at the hard RLIMIT_CPU (SIGKILL one second after SIGXCPU).

        The signal alone cannot tell (SIGKILL also comes from the OOM killer), so the tree's
        CPU time must be past the soft limit (SIGXCPU) too; the rusage sampling of the kernel
        can fall a little short of the exact limit, hence the half second of slack. unshare does
        not pass the signal on: it exits 1 after "unshare: sigprocmask unblock failed".
        """
        if self._cpu_limit is None or out.cpu_seconds is None:
            return False
        signalled = rc in (-signal.SIGKILL, -signal.SIGXCPU)
        if self.isolation == IsolationLevel.UNSHARE and rc > 0:
            signalled = "unshare:" in self.last_stderr
        return signalled and out.cpu_seconds >= self._cpu_limit - 0.5

    @staticmethod
    def _error_from(error: dict[str, Any], function: str, ctx: dict[str, Any]) -> CandidateError:
        kind = str(error.get("type", "Error"))[:200]
        message = str(error.get("message", ""))[:2000]
        phase = error.get("phase", "call")
        lineno = error.get("lineno") if isinstance(error.get("lineno"), int) else None
        file = error.get("file") if isinstance(error.get("file"), str) else None
        where = (f" ({file[:200]} line {lineno})" if file and lineno else f" (line {lineno})" if lineno else "")
        if phase == "encode":
            summary = f"candidate returned a value that is not plain data: {message}"
        elif phase == "lookup":
            summary = message
        elif phase == "import":
            summary = f"candidate program failed to load: {kind}: {message}{where}"
        elif kind == "CpuTimeExceeded":
            summary = f"candidate exceeded its CPU time limit{where} in {function}()"
        else:
            summary = f"candidate raised {kind}: {message}{where} in {function}()"
            if kind == "MemoryError":
                summary += " (memory limit exceeded)"
        return CandidateError(summary, exc_type=kind, lineno=lineno,
                              traceback=str(error.get("traceback", ""))[-20_000:], **ctx)
