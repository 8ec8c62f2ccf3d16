"""Compute inflation: a gain bought with much more CPU, not with a better idea.

Why it is a safety signal: raising `for _ in range(20)` to `range(199250)` improves a sampling
search's score without changing its algorithm, and the score alone cannot tell. The CPU of every
evaluation is measured by the trusted side (`CallCost`), so a child that beats its parent while
using more than `safety.compute_inflation_factor` times the parent's CPU is flagged: an alert for
`evoforge audit`, and a note in the feedback its own children's prompts carry.

Flagged, not quarantined: the score is real (the evaluator measured it), and more compute is
sometimes the honest answer (a stub parent that did nothing). What the task allows is the task's
to say with ``evaluator.cpu_budget_s``; this check makes the trade visible to the person and to
the model instead of silently rewarding it.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..sandbox.cost import format_seconds

# CPU growth below this is noise, not inflation: interpreter start-up (~0.05 s per call) and the
# 10 ms clock ticks of /proc figures dominate tiny evaluations.
MIN_CPU_GROWTH_S = 0.1


@dataclass(frozen=True)
class InflationFlag:
    """A child that improved while using `ratio` times its parent's CPU (over `threshold`)."""

    parent_cpu_s: float
    cpu_s: float
    threshold: float

    @property
    def ratio(self) -> float:
        return self.cpu_s / self.parent_cpu_s

    def ratio_text(self) -> str:
        """ "10,000×" or "12×" (one decimal below 10)."""
        r = self.ratio
        return f"{r:,.0f}×" if r >= 10 else f"{r:.1f}×"

    def trade(self) -> str:
        return f"{self.ratio_text()} more CPU ({format_seconds(self.parent_cpu_s)} → {format_seconds(self.cpu_s)})"

    def message(self, attempt_id: str) -> str:
        """For `evoforge audit`."""
        return (f"program {attempt_id} improved on its parent with {self.trade()}, over "
                f"safety.compute_inflation_factor = {self.threshold:g}×: a gain from compute, not "
                "necessarily a better algorithm (set evaluator.cpu_budget_s to bound it)")

    def note(self) -> str:
        """For the model, in the feedback of this program when it is a parent."""
        return (f"Compute warning: your gain came from {self.trade()}, not from a better method; "
                "improve the algorithm instead of spending more computation.")

    def to_json(self) -> dict[str, float]:
        return {"parent_cpu_s": self.parent_cpu_s, "cpu_s": self.cpu_s, "ratio": round(self.ratio, 3),
                "threshold": self.threshold}


def compute_inflation(cpu_s: float, parent_cpu_s: float, threshold: float | None) -> InflationFlag | None:
    """The flag for a child that improved on its parent using `cpu_s` CPU seconds against the
    parent's `parent_cpu_s`, or None: off (`threshold` None), unknown parent CPU, small growth."""
    if threshold is None or parent_cpu_s <= 0:
        return None
    if cpu_s - parent_cpu_s < MIN_CPU_GROWTH_S or cpu_s <= threshold * parent_cpu_s:
        return None
    return InflationFlag(parent_cpu_s=parent_cpu_s, cpu_s=cpu_s, threshold=threshold)
