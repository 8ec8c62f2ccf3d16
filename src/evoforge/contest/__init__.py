"""Heuristic contests (ALE-Bench style): instance generators, strict scorers, public and
private seeds, and solutions in Python or C++ run in the sandbox.

    Problem, InvalidOutput             what a problem defines (problem.py)
    evaluate_contest(candidate, ...)   the whole evaluator of a contest task (runner.py)
    problems.routing.Routing           capacitated vehicle routing, written for evoforge
    problems.placement.Placement       strip packing with rotations, written for evoforge
"""
from __future__ import annotations

from evoforge.contest.problem import InvalidOutput, Problem
from evoforge.contest.runner import (
    CaseResult,
    compile_cpp,
    evaluate_contest,
    solve_command,
    solve_python,
)

__all__ = ["CaseResult", "InvalidOutput", "Problem", "compile_cpp", "evaluate_contest",
           "solve_command", "solve_python"]
