"""The trusted evaluator of constant-tuning tasks (examples/self_improve/numeric/tasks/tune_*).

Why one module: the six tuning tasks differ only in their hidden target, weights and coupling;
each task's evaluate.py names those and delegates here, so the loss and the reading of the
program are written once. The program is data: `params()` may only assign number literals to
x0..x{n-1} and return them; they are read with `ast` and the candidate is never run, so nothing
but the values can change the score (and an evaluation costs no sandbox process, which keeps
self-improvement's many inner runs cheap). The loss is a weighted squared distance to the target
in log space (every step of a constant-tuning search is a relative one), plus an optional
coupling of neighbouring constants and optional bumps. Lower is better; 0 is the optimum.
"""
from __future__ import annotations

import ast
import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from ..sandbox import Result


@dataclass(frozen=True)
class ConstantTuning:
    target: Sequence[float]
    weights: Sequence[float]
    coupling: float = 0.0
    bumps: float = 0.0

    def values(self, code: str) -> list[float] | str:
        """The literals x0..x{n-1} assigned in params(), or a reason why they cannot be read."""
        n = len(self.target)
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            return f"does not parse: {exc.msg}"
        fn = next((s for s in tree.body if isinstance(s, ast.FunctionDef) and s.name == "params"), None)
        if fn is None:
            return "no params() function"
        found: dict[str, float] = {}
        for st in fn.body:
            if isinstance(st, ast.Return):
                break
            if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)
                    and isinstance(st.value, ast.Constant) and type(st.value.value) in (int, float)):
                return f"params() may only assign number literals to x0..x{n - 1} and return them"
            found[st.targets[0].id] = float(st.value.value)
        names = [f"x{i}" for i in range(n)]
        missing = [name for name in names if name not in found]
        if missing:
            return f"params() does not set {', '.join(missing)}"
        values = [found[name] for name in names]
        if not all(math.isfinite(v) and v > 0 for v in values):
            return "every constant must be a finite number above 0"
        return values

    def loss(self, values: Sequence[float]) -> float:
        d = [math.log(v / t) for v, t in zip(values, self.target)]
        total = sum(w * x * x for w, x in zip(self.weights, d))
        total += self.coupling * sum((a - b) ** 2 for a, b in pairwise(d))
        total += self.bumps * sum(1.0 - math.cos(6.0 * x) for x in d)
        return total

    def evaluate(self, code: str) -> Result:
        values = self.values(code)
        if isinstance(values, str):
            return Result.invalid(values)
        score = self.loss(values)
        return Result(score=score, feedback=f"loss {score:.4g}")
