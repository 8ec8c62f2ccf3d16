"""Model calls and evaluations on separate pools, with a bounded queue of proposals between.

Why: a worker that asks (waiting for the model) and then evaluates leaves its model slot idle
while it evaluates, and its evaluation slot idle while it waits for the model. Here *proposers*
keep up to the providers' ``max_concurrency`` model requests in flight, *evaluators* keep up to
``evaluator.workers`` evaluations in flight, and an evaluator with nothing queued fills its slot
with a zero-cost operator proposal (``mutation.fill_idle``) instead of waiting for the model.

Freshness: a proposer takes a *ticket* before it asks, and ``ask`` selects the parent only then,
so no proposal is planned before there is room for it; at most ``model slots + workers``
proposals wait between planning and evaluation. Every proposal is stored as pending by ``ask``
before it is queued, so Ctrl-C or kill -9 leaves queued work in storage and a resume evaluates it
first.

With one worker and one model request in flight the pipeline runs in *lockstep* (a ticket is
given back only when its proposal has been told), which is the old ask → evaluate → tell order:
such a run proposes the same programs for the same seed, whatever the timing. Otherwise the
proposers start model edits of the initial program while it is still being evaluated, so the
model is not idle for the first evaluation (which may take minutes).
"""
from __future__ import annotations

import threading
import time
import traceback
from collections import deque
from typing import Any, Callable

from ..executors.base import Executor
from ..safety import IntegrityError
from ..sandbox import Evaluation
from .core import Engine, Proposal
from .evaluation import evaluate_staged

_TICK = 0.05  # how long an idle thread waits before looking again (it is woken earlier by progress)


def is_in_process(spec: str) -> bool:
    """Models run inside this process (the embedded model, ``local/*.gguf``) serve one request at a time."""
    s = spec.strip().lower()
    return s == "embedded" or s.startswith("local/")


def model_concurrency(spec: str, configured: int | None, workers: int,
                      log: Callable[[str], None] | None = None) -> int:
    """Requests in flight for one provider: llm.concurrency when set, else evaluator.workers (so that
    ``--workers`` means something for a hosted model); always 1 for an in-process model."""
    if is_in_process(spec):
        if configured is not None and configured > 1 and log:
            log(f"note: llm.concurrency={configured} does not apply to {spec}: an in-process model "
                "serves one request at a time")
        return 1
    return max(1, configured if configured is not None else workers)


def model_slots(engine: Engine) -> int:
    """Model requests the run keeps in flight: the largest provider limit. Not the sum: each proposal
    goes to one model (the ensemble's bandit picks it), so an ensemble of two models with
    llm.concurrency 4 keeps 4 requests in flight, never more than 4 on either."""
    return max([1] + [max(1, int(p.max_concurrency)) for p in engine.providers.values()])


def executor_failure(exc: BaseException) -> Evaluation:
    tail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return Evaluation(status="error", result=None, reason=f"the executor failed: {tail}", stdout="", stderr="", seconds=0.0)


class Pipeline:
    """One run's proposer and evaluator threads (see the module docstring)."""

    def __init__(self, engine: Engine, executor: Executor, workers: int, stop: threading.Event,
                 *, proposers: int | None = None) -> None:
        self.engine = engine
        self.executor = executor
        self.workers = max(1, workers)
        self.proposers = max(1, proposers if proposers is not None else model_slots(engine))
        self.stop = stop
        self.lockstep = self.workers == 1 and self.proposers == 1
        self.fill_idle = bool(engine.cfg.mutation.fill_idle) and not self.lockstep
        self._tickets = threading.Semaphore(1 if self.lockstep else self.proposers + self.workers)
        self._queue: deque[Proposal] = deque()
        self._cond = threading.Condition()
        self._proposers_alive = self.proposers
        self.errors: list[BaseException] = []

    # -- threads -------------------------------------------------------------------------
    def threads(self) -> list[threading.Thread]:
        made = [threading.Thread(target=self._guarded, args=(self._propose_loop,), name=f"evoforge-proposer-{i}",
                                 daemon=True) for i in range(self.proposers)]
        made += [threading.Thread(target=self._guarded, args=(self._evaluate_loop,), name=f"evoforge-evaluator-{i}",
                                  daemon=True) for i in range(self.workers)]
        return made

    def _guarded(self, loop: Callable[[], None]) -> None:
        try:
            loop()
        except IntegrityError as exc:
            self.integrity_failed(exc)
        except BaseException as exc:  # surfaced to the caller after the other threads stop
            self.errors.append(exc)
            self.stop.set()
        finally:
            with self._cond:
                if loop == self._propose_loop:
                    self._proposers_alive -= 1
                self._cond.notify_all()

    def integrity_failed(self, exc: IntegrityError) -> None:
        self.engine.stop_reason = f"integrity check failed: {exc}"
        self.engine.storage.add_event(self.engine.run.id, "alert", {"kind": "integrity", "message": str(exc)})
        self.stop.set()
        with self._cond:
            self._cond.notify_all()

    def _wait(self) -> None:
        with self._cond:
            self._cond.wait(_TICK)

    # -- proposers -----------------------------------------------------------------------
    def _propose_loop(self) -> None:
        engine = self.engine
        while not self.stop.is_set():
            if not self._tickets.acquire(timeout=_TICK):
                continue
            try:
                # the parent is chosen now, with a ticket in hand; while idle evaluators make the
                # operators, a proposer spends its ticket on the model only
                proposal = engine.ask(models_only=self.fill_idle, ahead_of_initial=not self.lockstep)
            except BaseException:
                self._tickets.release()
                raise
            if proposal is None:
                self._tickets.release()
                if engine.stop_reason:
                    return
                self._wait()
                continue
            if not proposal.needs_evaluation:  # failed before evaluation: already recorded
                self._tickets.release()
                continue
            with self._cond:
                self._queue.append(proposal)
                self._cond.notify_all()

    # -- evaluators ----------------------------------------------------------------------
    def _take(self) -> Proposal | None:
        with self._cond:
            if not self._queue:
                return None
            proposal = self._queue.popleft()
        if not self.lockstep:
            self._tickets.release()  # its room goes to the next proposal at once
        return proposal

    def _finished(self) -> bool:
        with self._cond:
            return not self._queue and self._proposers_alive == 0

    def _evaluate_loop(self) -> None:
        engine = self.engine
        while not self.stop.is_set():
            if engine.integrity is not None:
                engine.integrity.check(min_interval=0.5)  # raises IntegrityError: the run stops
            proposal = self._take()
            if proposal is None and self.fill_idle:
                proposal = engine.ask(operators_only=True)
                if proposal is not None and not proposal.needs_evaluation:
                    continue
            if proposal is None:
                if self._finished():
                    return
                self._wait()
                continue
            self._evaluate(proposal)

    def _evaluate(self, proposal: Proposal) -> None:
        engine = self.engine
        try:
            evaluation = evaluate_staged(engine.task, self.executor, proposal.attempt.code or "",
                                         integrity=engine.integrity)
        except Exception as exc:  # an executor bug must not lose the attempt
            evaluation = executor_failure(exc)
        try:
            engine.tell(proposal, evaluation)
        finally:
            if self.lockstep:
                self._tickets.release()
            with self._cond:
                self._cond.notify_all()
        if engine.integrity is not None and engine.integrity.violation is not None:
            raise engine.integrity.violation  # the run stops after recording the attempt

    def shape(self) -> dict[str, Any]:
        """What the run keeps in flight, for logs and tests."""
        return {"proposers": self.proposers, "workers": self.workers, "lockstep": self.lockstep,
                "fill_idle": self.fill_idle}


def join_all(threads: list[threading.Thread], seconds: float) -> None:
    """Join threads within one deadline (not `seconds` each)."""
    deadline = time.monotonic() + seconds
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
