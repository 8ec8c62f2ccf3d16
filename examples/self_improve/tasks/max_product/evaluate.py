from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    out = candidate.call("parts", timeout=10, cpu_budget_s=2)
    if not isinstance(out, list) or not out or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in out):
        return Result.invalid("parts() must return a non-empty list of positive integers")
    if sum(out) != 20 or len(out) > 20:
        return Result.invalid(f"the parts sum to {sum(out)}, not 20")
    product = 1
    for v in out:
        product *= v
    return Result(score=float(product), feedback=f"parts {out} product {product}")
