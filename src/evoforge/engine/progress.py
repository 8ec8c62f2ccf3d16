"""Live progress in the terminal (rich): proposals, model calls against the budget, best score,
failure rate, tokens, cost and an ETA. Falls back to one line per new best when not a TTY."""
from __future__ import annotations

import time
from typing import Any

from ..program import Attempt


class ProgressDisplay:
    """Listens to the engine and renders a progress bar; `close()` leaves the final state."""

    def __init__(self, engine: Any, *, enabled: bool = True, console: Any = None) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.engine = engine
        self.console = console or Console(stderr=True)
        self.enabled = enabled and self.console.is_terminal
        self.failures = 0
        self.done = 0
        self._started = time.monotonic()
        budget = engine.cfg.budget
        self.total = budget.llm_calls if budget.llm_calls is not None else budget.proposals
        self.progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
            TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
            console=self.console, disable=not self.enabled, transient=False,
        )
        label = "model calls" if budget.llm_calls is not None else "proposals"
        self.task_id = self.progress.add_task(label, total=self.total, info="", completed=self._completed())
        if self.enabled:
            self.progress.start()
        engine.listeners.append(self.on_attempt)

    def _completed(self) -> int:
        u = self.engine.budget.usage
        return u.llm_calls if self.engine.cfg.budget.llm_calls is not None else u.proposals

    def info(self) -> str:
        s = self.engine.stats()
        best = "—" if s["best_score"] is None else f"{s['best_score']:.6g}"
        rate = f"{100 * self.failures / self.done:.0f}%" if self.done else "—"
        cost = f" ${s['cost_usd']:.4f}" if s["cost_usd"] else ""
        return (f"best {best} | proposals {s['proposals']} ({s['operator_proposals']} operators) | "
                f"failed {rate} | tokens {s['tokens']}{cost}")

    def on_attempt(self, attempt: Attempt) -> None:
        self.done += 1
        if not attempt.is_program:
            self.failures += 1
        if self.enabled:
            self.progress.update(self.task_id, completed=self._completed(), info=self.info())
        elif attempt.is_program and self.engine.best is attempt:
            self.console.print(f"new best {attempt.score:.6g} (proposal {attempt.proposal_index}, {attempt.mutation})")

    def close(self) -> None:
        if self.enabled:
            self.progress.update(self.task_id, completed=self._completed(), info=self.info())
            self.progress.stop()
        if self.on_attempt in self.engine.listeners:
            self.engine.listeners.remove(self.on_attempt)
