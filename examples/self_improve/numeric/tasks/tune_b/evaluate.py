"""tune_b: params() holds 5 positive constants; the score is their loss against a hidden target.

The program is data: the evaluator reads the 5 number literals with `ast` and never runs the
candidate, so nothing but the values can change the score (an evaluation costs no sandbox
process, which keeps self-improvement's many inner runs cheap). The loss is measured in log
space, so every step of a constant-tuning search is a relative one: a weighted squared distance
to the target, plus a coupling of neighbouring constants. Lower is better; 0 is the optimum.
"""
from evoforge import Candidate, Result
from evoforge.rsi.tuning import ConstantTuning

TASK = ConstantTuning(target=[0.9601, 1.2865, 1.3051, 0.5645, 0.4572], weights=[1.062, 0.911, 1.716, 1.536, 1.402],
                      coupling=0.5, bumps=0.0)


def evaluate(candidate: Candidate) -> Result:
    return TASK.evaluate(candidate.code)
