"""Trusted evaluator for the strip-packing contest (placement with rotations).

The candidate's solve(instance) runs in a separate sandboxed process per instance, with the
problem's time limit measured from outside; placements are validated exactly here (integer
coordinates, inside the strip, no overlaps) by evoforge.contest.problems.placement.
Public seeds give the score and the feedback; private seeds only `private_score`.
"""
from evoforge import Candidate, Result
from evoforge.contest import evaluate_contest
from evoforge.contest.problems import Placement

PUBLIC_SEEDS = [1, 2, 3, 4, 5]
PRIVATE_SEEDS = [1001, 1002, 1003, 1004, 1005]


def evaluate(candidate: Candidate, private: bool = True) -> Result:
    return evaluate_contest(candidate, Placement(), PUBLIC_SEEDS, PRIVATE_SEEDS,
                            run_private=private)
