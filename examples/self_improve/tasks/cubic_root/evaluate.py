import math

from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    x = candidate.call("root", timeout=10, cpu_budget_s=2)
    if not isinstance(x, (int, float)) or isinstance(x, bool) or not math.isfinite(x):
        return Result.invalid("root() must return a finite number")
    value = abs(x ** 3 - 2 * x - 5)
    return Result(score=value, feedback=f"x={x:.6g} |f(x)|={value:.4g}")
