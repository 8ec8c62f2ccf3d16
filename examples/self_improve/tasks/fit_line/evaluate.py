import math

from evoforge import Candidate, Result

POINTS = [(x, 2.5 * x - 1.0 + 0.3 * math.sin(3 * x)) for x in range(-5, 6)]


def evaluate(candidate: Candidate) -> Result:
    out = candidate.call("fit", timeout=10, cpu_budget_s=2)
    if not isinstance(out, list) or len(out) != 2 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in out):
        return Result.invalid("fit() must return two numbers (a, b)")
    a, b = out
    if not (math.isfinite(a) and math.isfinite(b)):
        return Result.invalid("a and b must be finite")
    mse = sum((a * x + b - y) ** 2 for x, y in POINTS) / len(POINTS)
    return Result(score=mse, feedback=f"a={a:.4g} b={b:.4g} mse={mse:.4g}")
