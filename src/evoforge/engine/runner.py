"""The loop around the ask/tell core: proposers keep model calls in flight, evaluators keep
evaluations in flight (``pipeline.Pipeline``), and this module starts them, waits, and stops them.
Ctrl-C stops cleanly; pending attempts stay in storage and a resume evaluates them first.
"""
from __future__ import annotations

import threading
from typing import Callable

from ..executors.base import Executor
from ..safety import IntegrityError
from .core import Engine
from .pipeline import Pipeline, join_all


def run_workers(engine: Engine, executor: Executor, workers: int, *, stop: threading.Event | None = None,
                on_idle: Callable[[], None] | None = None, proposers: int | None = None) -> str:
    """Run until the budget is spent (or `stop` is set). Returns the reason the run stopped.

    `workers` evaluations and `proposers` model requests (default: the providers' concurrency
    limits summed) are kept in flight."""
    stop = stop or threading.Event()
    pipeline = Pipeline(engine, executor, workers, stop, proposers=proposers)
    threads = pipeline.threads()
    for t in threads:
        t.start()
    try:
        while any(t.is_alive() for t in threads):
            for t in threads:
                t.join(timeout=0.2)
            if on_idle:
                on_idle()
    except KeyboardInterrupt:
        stop.set()
        engine.stop_reason = "interrupted"
        join_all(threads, 5.0)
    finally:
        engine.save_state()
    if pipeline.errors:
        raise pipeline.errors[0]
    # The per-proposal check is throttled and the per-stage one runs only when something is
    # evaluated: one exact check at the end, so a change to the task files is never missed.
    if engine.integrity is not None and not (engine.stop_reason or "").startswith("integrity"):
        try:
            engine.integrity.check()
        except IntegrityError as exc:
            pipeline.integrity_failed(exc)
    return engine.stop_reason or engine.budget.stop_reason or ("stopped" if stop.is_set() else "done")
