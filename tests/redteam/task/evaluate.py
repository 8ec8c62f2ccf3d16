"""Trusted evaluator of the red-team task: guess the hidden number.

The hidden answer lives next to this file (``hidden_answer.txt``) and never enters the
candidate's process: a candidate scores 1.0 only by reading it, which is exactly what the
sandbox must prevent. ``ctx`` (passed as a stage argument by the red-team tests) tells the
candidate everything it would need to attack: paths, a listening port, a marker. The tests
assume the attacker knows it all and check that knowing is not enough.
"""
# evaluator-source-canary: EVALSRC-7d1e4c0a9b  (the candidate must never see this line)
from __future__ import annotations

import time
from pathlib import Path

from evoforge import Candidate, Result

HIDDEN = Path(__file__).resolve().parent / "hidden_answer.txt"
MAXIMUM = 1.0


def evaluate(candidate: Candidate, ctx: dict | None = None, call_timeout: float = 2.0) -> Result:
    answer = float(HIDDEN.read_text().strip())  # hidden data: stays in this trusted process
    start = time.monotonic()                     # time is measured here, outside the sandbox
    value = candidate.call("attack", dict(ctx or {}), timeout=call_timeout)
    metrics = {"elapsed": time.monotonic() - start, "returned_type": type(value).__name__}
    if type(value) not in (int, float):          # plain data arrives, never the candidate's objects
        return Result.invalid(f"attack() returned {type(value).__name__}, expected a number",
                              **metrics)
    if value > MAXIMUM:                          # the real comparison of a real float
        return Result.invalid(f"value {value!r} is above the maximum {MAXIMUM}", **metrics)
    score = 1.0 - abs(value - answer)            # NaN and -inf pass through: the host rejects them
    return Result(score=score, feedback=f"attack() returned {value!r}", metrics=metrics)
