"""tune_d: params() holds 4 positive constants; the score is their loss against a hidden target.

The program is data: the evaluator reads the 4 number literals with `ast` and never runs the
candidate, so nothing but the values can change the score (an evaluation costs no sandbox
process, which keeps self-improvement's many inner runs cheap). The loss is measured in log
space, so every step of a constant-tuning search is a relative one: a weighted squared distance
to the target, plus a coupling of neighbouring constants. Lower is better; 0 is the optimum.
"""
import ast
import math
from itertools import pairwise

from evoforge import Candidate, Result

TARGET = [0.585, 1.3548, 1.2411, 0.9671]
WEIGHTS = [0.824, 1.689, 1.712, 1.269]
COUPLING = 0.5
BUMPS = 0.0


def _values(code: str):
    """The literals x0..x3 assigned in params(), or a reason why they cannot be read."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return f"does not parse: {exc.msg}"
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "params"), None)
    if fn is None:
        return "no params() function"
    found = {}
    for st in fn.body:
        if isinstance(st, ast.Return):
            break
        if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)
                and isinstance(st.value, ast.Constant) and type(st.value.value) in (int, float)):
            return "params() may only assign number literals to x0..x3 and return them"
        found[st.targets[0].id] = float(st.value.value)
    names = [f"x{i}" for i in range(4)]
    missing = [n for n in names if n not in found]
    if missing:
        return f"params() does not set {', '.join(missing)}"
    values = [found[n] for n in names]
    if not all(math.isfinite(v) and v > 0 for v in values):
        return "every constant must be a finite number above 0"
    return values


def loss(values):
    d = [math.log(v / t) for v, t in zip(values, TARGET)]
    total = sum(w * x * x for w, x in zip(WEIGHTS, d))
    total += COUPLING * sum((a - b) ** 2 for a, b in pairwise(d))
    total += BUMPS * sum(1.0 - math.cos(6.0 * x) for x in d)
    return total


def evaluate(candidate: Candidate) -> Result:
    values = _values(candidate.code)
    if isinstance(values, str):
        return Result.invalid(values)
    score = loss(values)
    return Result(score=score, feedback=f"loss {score:.4g}")
