"""tune_e: params() holds 5 positive constants; the score is their loss against a hidden target.

The program is data: the evaluator reads the 5 number literals with `ast` and never runs the
candidate, so nothing but the values can change the score (an evaluation costs no sandbox
process, which keeps self-improvement's many inner runs cheap). The loss is measured in log
space, so every step of a constant-tuning search is a relative one: a weighted squared distance
to the target, plus cosine bumps (local minima). Lower is better; 0 is the optimum.
"""
from evoforge import Candidate, Result
from evoforge.rsi.tuning import ConstantTuning

TASK = ConstantTuning(target=[2.0816, 0.5625, 0.4666, 2.2207, 0.6034], weights=[0.681, 1.477, 1.018, 1.834, 0.848],
                      coupling=0.0, bumps=0.3)


def evaluate(candidate: Candidate) -> Result:
    return TASK.evaluate(candidate.code)
