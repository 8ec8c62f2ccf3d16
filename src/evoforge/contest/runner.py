"""Running contest solutions in the sandbox and turning per-instance scores into a Result.

Public seeds drive selection: their mean is the score the search sees, and their per-seed
results are the feedback the model reads (ALE-Agent refines from exactly this). Private
seeds are solved too (a solution must solve them) but only their mean is reported, as
`private_score`, which evoforge stores and never shows to the model.

Public failures are loud: invalid output makes the candidate invalid with the seed and the
broken rule; a crash or a time-limit overrun propagates as the candidate's error/timeout.
Private failures score 0 for that seed, silently, like a hidden test case.

Compute: the time limit is wall clock per instance, and the same number is also the instance's
CPU budget (``cpu_budget_s``, the whole process tree, measured from outside): a solution that
forks workers or spawns threads gets no more computation than a single-threaded one, so within
the limit only a better algorithm scores better. Over it, the tree is killed
(`CandidateBudgetExceeded`, a `CandidateError`).
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from evoforge.contest.problem import InvalidOutput, Problem
from evoforge.sandbox import Candidate, CandidateError, CandidateTimeout, Result

STARTUP_SLACK = 1.0  # seconds on top of the time limit for interpreter start-up / imports


@dataclass
class CaseResult:
    seed: int
    score: float
    seconds: float
    error: str = ""  # empty when the output was valid


def _checked_score(problem: Problem, instance: Any, output: Any) -> float:
    value = problem.score(instance, output)
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RuntimeError(f"{problem.name}.score returned {value!r}: a scorer bug")
    return float(value)


def solve_python(candidate: Candidate, problem: Problem, seed: int, *,
                 function: str = "solve") -> CaseResult:
    """`function(instance)` in a fresh sandboxed process; raises CandidateError/Timeout."""
    instance = problem.generate(seed)
    limit = problem.time_limit + STARTUP_SLACK
    output = candidate.call(function, instance, timeout=limit, cpu_budget_s=limit)
    seconds = candidate.last_seconds
    try:
        return CaseResult(seed, _checked_score(problem, instance, output), seconds)
    except InvalidOutput as exc:
        return CaseResult(seed, 0.0, seconds, str(exc))


def compile_cpp(candidate: Candidate, *, flags: Sequence[str] = ("-O2", "-std=c++17"),
                binary: str = "sol", timeout: float = 120) -> str | None:
    """Compile the candidate with g++ inside its sandbox (cwd = its private directory).
    Returns None on success, else the compiler's complaint (last lines)."""
    out = candidate.run(["g++", *flags, "-o", binary, "{program}"], timeout=timeout)
    if out.timed_out:
        return f"compilation took longer than {timeout:.0f}s"
    if out.returncode != 0:
        lines = [ln for ln in out.stderr.splitlines() if ln.strip()]
        text = "\n".join(lines[-15:]).replace(str(candidate.path), candidate.path.name)
        return f"compilation failed (g++ exit {out.returncode}):\n{text}"
    return None


def solve_command(candidate: Candidate, problem: Problem, seed: int, *,
                  argv: Sequence[str] = ("./sol",)) -> CaseResult:
    """Run a compiled solution with the instance on stdin; raise CandidateTimeout on TLE and
    CandidateError on a crash (a non-zero exit), like `candidate.call` does."""
    instance = problem.generate(seed)
    out = candidate.run(list(argv), stdin=problem.format_input(instance),
                        timeout=problem.time_limit + 0.5, cpu_budget_s=problem.time_limit + 0.5)
    if out.timed_out:
        raise CandidateTimeout(f"seed {seed}: over the time limit of "
                               f"{problem.time_limit:.1f}s", timeout=problem.time_limit,
                               stderr=out.stderr)
    if out.returncode != 0:
        tail = out.stderr.strip().splitlines()[-1:] if out.stderr.strip() else []
        raise CandidateError(f"seed {seed}: the program exited with code {out.returncode}"
                             + (f": {tail[0][:300]}" if tail else ""), stderr=out.stderr)
    try:
        output = problem.parse_output(out.stdout)
        return CaseResult(seed, _checked_score(problem, instance, output), out.seconds)
    except InvalidOutput as exc:
        return CaseResult(seed, 0.0, out.seconds, str(exc))


def _solve(candidate: Candidate, problem: Problem, seed: int, language: str) -> CaseResult:
    if language == "python":
        return solve_python(candidate, problem, seed)
    return solve_command(candidate, problem, seed)


def evaluate_contest(candidate: Candidate, problem: Problem, public_seeds: Sequence[int],
                     private_seeds: Sequence[int] = (), *, language: str = "python",
                     run_private: bool = True) -> Result:
    """Score a solution on the public seeds (selection) and the private ones (reported only).

    `language`: "python" (the candidate defines ``solve(instance)``) or "cpp" (compiled with
    g++ in the sandbox, then run once per seed with the instance on stdin).
    """
    if not public_seeds:
        raise ValueError("at least one public seed is needed")
    if language not in ("python", "cpp"):
        raise ValueError(f"language must be 'python' or 'cpp', got {language!r}")
    if language == "cpp":
        problem_text = compile_cpp(candidate)
        if problem_text:
            return Result.invalid(problem_text)
    public = []
    for seed in public_seeds:
        case = _solve(candidate, problem, seed, language)
        if case.error:
            return Result.invalid(f"seed {seed}: invalid output: {case.error}",
                                  failed_seed=seed)
        public.append(case)
    private_scores = []
    if run_private:
        for seed in private_seeds:
            try:
                private_scores.append(_solve(candidate, problem, seed, language).score)
            except CandidateError:  # includes timeouts: a hidden case simply scores 0
                private_scores.append(0.0)
    mean = sum(c.score for c in public) / len(public)
    slowest = max(c.seconds for c in public)
    lines = [f"seed {c.seed}: score {c.score:.0f} in {c.seconds:.2f}s" for c in public]
    feedback = (f"mean score {mean:.0f} over {len(public)} public instances "
                f"(time limit {problem.time_limit:.1f}s each, slowest {slowest:.2f}s)\n"
                + "\n".join(lines))
    metrics: dict[str, Any] = {f"seed_{c.seed}": round(c.score, 3) for c in public}
    metrics["slowest_s"] = round(slowest, 3)
    return Result(score=mean, feedback=feedback, metrics=metrics,
                  private_score=(sum(private_scores) / len(private_scores)
                                 if private_scores else None))
