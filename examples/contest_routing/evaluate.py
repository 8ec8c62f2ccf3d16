"""Trusted evaluator for the delivery-routing contest (capacitated vehicle routing).

The candidate's solve(instance) runs in a separate sandboxed process per instance, with the
problem's time limit measured from outside; its routes are validated strictly here
(every customer exactly once, capacities respected) by evoforge.contest.problems.routing.
Public seeds give the score and the feedback; private seeds only `private_score`.
"""
from evoforge import Candidate, Result
from evoforge.contest import evaluate_contest
from evoforge.contest.problems import Routing

PUBLIC_SEEDS = [1, 2, 3, 4, 5]
PRIVATE_SEEDS = [1001, 1002, 1003, 1004, 1005]


def evaluate(candidate: Candidate, private: bool = True) -> Result:
    return evaluate_contest(candidate, Routing(), PUBLIC_SEEDS, PRIVATE_SEEDS,
                            run_private=private)
