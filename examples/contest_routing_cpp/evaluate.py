"""Trusted evaluator for delivery routing with C++ solutions.

The candidate (initial.cpp) is compiled with g++ -O2 inside its own sandbox, then run once
per instance with the instance on stdin (format in initial.cpp's header) and the problem's
time limit measured from outside; the printed routes are parsed and validated strictly here
by evoforge.contest.problems.routing (same generator, seeds and scorer as contest_routing).
"""
from evoforge import Candidate, Result
from evoforge.contest import evaluate_contest
from evoforge.contest.problems import Routing

PUBLIC_SEEDS = [1, 2, 3, 4, 5]
PRIVATE_SEEDS = [1001, 1002, 1003, 1004, 1005]


def evaluate(candidate: Candidate, private: bool = True) -> Result:
    return evaluate_contest(candidate, Routing(), PUBLIC_SEEDS, PRIVATE_SEEDS, language="cpp",
                            run_private=private)
