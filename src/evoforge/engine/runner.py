"""The loop around the ask/tell core: N workers, each asking for a proposal, evaluating it
through the executor and telling the engine. Ctrl-C stops cleanly; pending attempts stay in
storage and a resume evaluates them first.
"""
from __future__ import annotations

import threading
import time
import traceback
from typing import Callable

from ..executors.base import Executor
from ..safety import IntegrityError
from ..sandbox import Evaluation
from .core import Engine
from .evaluation import evaluate_staged


def _executor_failure(exc: BaseException) -> Evaluation:
    tail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return Evaluation(status="error", result=None, reason=f"the executor failed: {tail}", stdout="", stderr="", seconds=0.0)


def run_workers(engine: Engine, executor: Executor, workers: int, *, stop: threading.Event | None = None,
                on_idle: Callable[[], None] | None = None) -> str:
    """Run until the budget is spent (or `stop` is set). Returns the reason the run stopped."""
    stop = stop or threading.Event()
    errors: list[BaseException] = []

    def integrity_failed(exc: IntegrityError) -> None:
        engine.stop_reason = f"integrity check failed: {exc}"
        engine.storage.add_event(engine.run.id, "alert", {"kind": "integrity", "message": str(exc)})
        stop.set()

    def worker() -> None:
        try:
            while not stop.is_set():
                if engine.integrity is not None:
                    engine.integrity.check(min_interval=0.5)  # raises IntegrityError: the run stops
                proposal = engine.ask()
                if proposal is None:
                    if engine.stop_reason:
                        return
                    time.sleep(0.05)
                    continue
                if proposal.needs_evaluation:
                    try:
                        evaluation = evaluate_staged(engine.task, executor, proposal.attempt.code or "",
                                                     integrity=engine.integrity)
                    except Exception as exc:  # an executor bug must not lose the attempt
                        evaluation = _executor_failure(exc)
                    engine.tell(proposal, evaluation)
                    if engine.integrity is not None and "task files changed" in (evaluation.reason or ""):
                        engine.integrity.check()  # raises: the run stops after recording the attempt
        except IntegrityError as exc:
            integrity_failed(exc)
        except BaseException as exc:  # surfaced to the caller after the other workers stop
            errors.append(exc)
            stop.set()

    threads = [threading.Thread(target=worker, name=f"evoforge-worker-{i}", daemon=True) for i in range(max(1, workers))]
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
        for t in threads:
            t.join(timeout=5)
    finally:
        engine.save_state()
    if errors:
        raise errors[0]
    # The per-proposal check is throttled and the per-stage one runs only when something is
    # evaluated: one exact check at the end, so a change to the task files is never missed.
    if engine.integrity is not None and not (engine.stop_reason or "").startswith("integrity"):
        try:
            engine.integrity.check()
        except IntegrityError as exc:
            integrity_failed(exc)
    return engine.stop_reason or engine.budget.stop_reason or ("stopped" if stop.is_set() else "done")
