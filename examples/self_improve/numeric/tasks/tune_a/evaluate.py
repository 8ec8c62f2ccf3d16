"""tune_a: params() holds 4 positive constants; the score is their loss against a hidden target.

The program is data: the evaluator reads the 4 number literals with `ast` and never runs the
candidate, so nothing but the values can change the score (an evaluation costs no sandbox
process, which keeps self-improvement's many inner runs cheap). The loss is measured in log
space, so every step of a constant-tuning search is a relative one: a weighted squared distance
to the target. Lower is better; 0 is the optimum.
"""
from evoforge import Candidate, Result
from evoforge.rsi.tuning import ConstantTuning

TASK = ConstantTuning(target=[0.9266, 1.1004, 1.9714, 0.9465], weights=[1.262, 1.381, 0.777, 1.268],
                      coupling=0.0, bumps=0.0)


def evaluate(candidate: Candidate) -> Result:
    return TASK.evaluate(candidate.code)
