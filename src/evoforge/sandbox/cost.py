"""`CallCost`: what running candidate code cost, measured from outside the sandbox.

Why it exists: a score says how good an answer is, not what it took to get it. A candidate that
raises a loop count 10,000-fold "improves" without a better idea; only a measurement made by the
trusted side (the candidate cannot fake it) lets the evaluator, the engine and a human tell.

- `wall_s`: wall-clock seconds of the process, start-up included (on a loaded machine this
  grows with the load, so budgets are in CPU seconds, never wall seconds);
- `cpu_s`: user + system CPU seconds of the candidate's whole process tree (every process it
  started, not only the first): from the tree's cgroup when one is writable, else the most of
  what ``wait4`` and ``/proc`` samples of the tree saw (see ``sandbox/_process.py``);
- `peak_memory_mb`: the tree's peak memory (memory cgroup), else the largest peak the kernel
  reported for one reaped process or sampled for the tree; None when nothing could tell.

A `CallCost` describes one `candidate.call`/`candidate.run` (`calls == 1`) or, added up, several
(`candidate.total_cost`: wall and CPU summed, peak memory the highest peak).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

_FIELDS = ("wall_s", "cpu_s", "peak_memory_mb", "calls")


@dataclass(frozen=True)
class CallCost:
    """Wall time, CPU time of the process tree and peak memory of one or more candidate calls."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_memory_mb: float | None = None
    calls: int = 1

    def __add__(self, other: "CallCost") -> "CallCost":
        if not isinstance(other, CallCost):
            return NotImplemented
        peaks = [p for p in (self.peak_memory_mb, other.peak_memory_mb) if p is not None]
        return CallCost(wall_s=self.wall_s + other.wall_s, cpu_s=self.cpu_s + other.cpu_s,
                        peak_memory_mb=max(peaks) if peaks else None,
                        calls=self.calls + other.calls)

    def describe(self) -> str:
        """One line for a human: "0.41 s CPU, 0.52 s wall, 38 MB peak memory, 2 calls"."""
        text = f"{format_seconds(self.cpu_s)} CPU, {format_seconds(self.wall_s)} wall"
        if self.peak_memory_mb is not None:
            text += f", {self.peak_memory_mb:.0f} MB peak memory"
        return text + f", {self.calls} call{'s' if self.calls != 1 else ''}"

    def to_json(self) -> dict[str, Any]:
        return {"wall_s": round(self.wall_s, 6), "cpu_s": round(self.cpu_s, 6),
                "peak_memory_mb": (None if self.peak_memory_mb is None
                                   else round(self.peak_memory_mb, 3)),
                "calls": self.calls}

    @classmethod
    def from_json(cls, data: Any) -> "CallCost":
        """Inverse of `to_json`; raises ValueError on anything else (it crosses a process)."""
        if not isinstance(data, dict):
            raise ValueError(f"a call cost is a mapping, got {type(data).__name__}")
        unknown = set(data) - set(_FIELDS)
        if unknown:
            raise ValueError(f"unknown call cost fields: {sorted(unknown)}")
        peak = data.get("peak_memory_mb")
        calls = data.get("calls", 1)
        if isinstance(calls, bool) or not isinstance(calls, int) or calls < 0:
            raise ValueError(f"calls must be a non-negative integer, got {calls!r}")
        return cls(wall_s=_seconds(data.get("wall_s", 0.0), "wall_s"),
                   cpu_s=_seconds(data.get("cpu_s", 0.0), "cpu_s"),
                   peak_memory_mb=None if peak is None else _seconds(peak, "peak_memory_mb"),
                   calls=calls)


NO_COST = CallCost(calls=0)


def _seconds(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be finite and ≥ 0, got {value!r}")
    return number


def format_seconds(seconds: float) -> str:
    """CPU/wall seconds for a message: 3 significant digits ("0.00213 s", "4.1 s", "21 s")."""
    return f"{seconds:.3g} s" if seconds < 1000 else f"{seconds:.0f} s"


def check_cpu_budget(value: Any, name: str = "cpu_budget_s") -> float | None:
    """A CPU budget as given by an evaluator: None (no budget) or a positive, finite number of
    CPU seconds. Anything else is a mistake worth stopping on, with the name and the value."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of CPU seconds, got {value!r}")
    number = float(value)
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive, finite number of CPU seconds, got {value!r}")
    return number
