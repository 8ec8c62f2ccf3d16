"""The shape of a heuristic-contest problem (AtCoder Heuristic Contest / ALE-Bench style).

A problem is four pure functions and two numbers, so that a task's trusted evaluator, the
reference solutions and the tests all use exactly the same generator and scorer:

- ``generate(seed) -> instance``: plain JSON data, deterministic in the seed;
- ``score(instance, output) -> float``: validates *strictly* (any broken rule raises
  `InvalidOutput` saying which) and returns the instance's score, higher is better;
- ``format_input(instance) -> str`` / ``parse_output(text) -> output``: the text protocol of
  solutions that are commands (C++ reads the instance on stdin, prints the answer);
- ``time_limit`` seconds per instance, and the statement the model reads.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import Any


class InvalidOutput(ValueError):
    """A solution's output breaks a rule of the problem (the message says which)."""


class Problem(ABC):
    """Subclass and fill in; instances of subclasses are stateless and cheap to create."""

    name: str = "problem"
    statement: str = ""
    time_limit: float = 2.0  # seconds per instance, measured by the evaluator from outside

    @abstractmethod
    def generate(self, seed: int) -> Any:
        """The instance for `seed` (plain data: dicts, lists, ints, floats, strings)."""

    @abstractmethod
    def score(self, instance: Any, output: Any) -> float:
        """Score of `output` on `instance`; raise InvalidOutput when it breaks a rule."""

    @abstractmethod
    def format_input(self, instance: Any) -> str:
        """The instance as text for a command's stdin."""

    @abstractmethod
    def parse_output(self, text: str) -> Any:
        """A command's stdout as an output for `score` (raise InvalidOutput if malformed)."""


# -- validation helpers shared by problems -------------------------------------------------
def as_int(value: Any, what: str) -> int:
    """`value` as an int, refusing bools, floats with a fraction, NaN and strings."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidOutput(f"{what} must be an integer, got {type(value).__name__}")
    if isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise InvalidOutput(f"{what} must be an integer, got {value!r}")
        value = int(value)
    return int(value)


def as_list(value: Any, what: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise InvalidOutput(f"{what} must be a list, got {type(value).__name__}")
    if length is not None and len(value) != length:
        raise InvalidOutput(f"{what} must have {length} entries, got {len(value)}")
    return list(value)


def int_tokens(text: str, what: str = "output") -> list[int]:
    """All whitespace-separated integers of `text` (anything else is an error)."""
    out = []
    for k, tok in enumerate(text.split()):
        try:
            out.append(int(tok))
        except ValueError:
            raise InvalidOutput(f"{what}: token {k + 1} is {tok[:20]!r}, not an integer") from None
    return out
