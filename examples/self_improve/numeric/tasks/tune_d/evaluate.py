"""tune_d: params() holds 4 positive constants; the score is their loss against a hidden target.

The program is data: the evaluator reads the 4 number literals with `ast` and never runs the
candidate, so nothing but the values can change the score (an evaluation costs no sandbox
process, which keeps self-improvement's many inner runs cheap). The loss is measured in log
space, so every step of a constant-tuning search is a relative one: a weighted squared distance
to the target, plus a coupling of neighbouring constants. Lower is better; 0 is the optimum.
"""
from evoforge import Candidate, Result
from evoforge.rsi.tuning import ConstantTuning

TASK = ConstantTuning(target=[0.585, 1.3548, 1.2411, 0.9671], weights=[0.824, 1.689, 1.712, 1.269],
                      coupling=0.5, bumps=0.0)


def evaluate(candidate: Candidate) -> Result:
    return TASK.evaluate(candidate.code)
