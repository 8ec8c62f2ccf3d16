from evoforge import Candidate, Result

ITEMS = [(10, 5), (40, 4), (30, 6), (50, 3), (35, 7), (12, 2), (25, 5), (8, 1), (45, 8), (20, 4)]


def evaluate(candidate: Candidate) -> Result:
    out = candidate.call("choose", timeout=10, cpu_budget_s=2)
    if not isinstance(out, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in out):
        return Result.invalid("choose() must return a list of item indices")
    if len(set(out)) != len(out) or any(not 0 <= i < len(ITEMS) for i in out):
        return Result.invalid("indices must be distinct and in range")
    weight = sum(ITEMS[i][1] for i in out)
    if weight > 15:
        return Result.invalid(f"total weight {weight} is above 15")
    value = sum(ITEMS[i][0] for i in out)
    return Result(score=float(value), feedback=f"value {value}, weight {weight}")
