"""Budgets: model calls, proposals, cost, tokens and wall clock.

Slots are *reserved* before work starts (so N workers never overshoot the budget together) and
*released* if the work did not happen. A cost or token budget cannot reserve an exact amount (a
call's price is known only when it returns), so a call in flight is counted at the most any call
has spent so far, and while nothing has been spent yet only one call is in flight: concurrent
calls then overshoot such a budget no more than calls made one at a time would. Counts are rebuilt from storage on resume, so a resumed
run continues to the same budget instead of starting over.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from ..config import BudgetConfig


@dataclass
class Usage:
    llm_calls: int = 0
    proposals: int = 0
    operator_proposals: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    elapsed_s: float = 0.0   # wall clock spent in earlier sessions of this run


# A call in flight is counted at the most a call has cost so far, with half again as margin: later
# calls carry longer prompts than the first ones (the parent's score and feedback, insights,
# inspirations; the first edits of the initial program start before it has a score), so the most
# seen so far underestimates them.
CALL_ESTIMATE_MARGIN = 1.5


class Budget:
    """Thread-safe budget accounting with reservations."""

    def __init__(self, config: BudgetConfig, usage: Usage | None = None) -> None:
        self.config = config
        self.usage = usage or Usage()
        self._reserved_llm = 0
        self._max_call_cost = 0.0     # the most one model call has cost so far: what a call in flight may spend
        self._max_call_tokens = 0
        self._calls_seen = 0          # calls recorded by this session (an estimate needs one)
        self._reserved_proposals = 0
        self._started = time.monotonic()
        self._lock = threading.Lock()
        self.stop_reason = ""

    def elapsed(self) -> float:
        return self.usage.elapsed_s + (time.monotonic() - self._started)

    def _exhausted(self) -> str:
        c, u = self.config, self.usage
        if c.proposals is not None and u.proposals + self._reserved_proposals >= c.proposals:
            return f"proposal budget reached ({c.proposals})"
        if c.max_cost_usd is not None and u.cost_usd >= c.max_cost_usd:
            return f"cost budget reached (${u.cost_usd:.4f} of ${c.max_cost_usd})"
        if c.max_tokens is not None and u.tokens >= c.max_tokens:
            return f"token budget reached ({u.tokens} of {c.max_tokens})"
        if c.wall_clock_s is not None and self.elapsed() >= c.wall_clock_s:
            return f"wall-clock budget reached ({c.wall_clock_s:.0f}s)"
        return ""

    def llm_calls_left(self) -> int | None:
        if self.config.llm_calls is None:
            return None
        return self.config.llm_calls - self.usage.llm_calls - self._reserved_llm

    def _spend_in_flight_full(self) -> bool:
        """True when the model calls in flight, each counted at the most a call has spent, may
        use what is left of the cost or token budget (so one more call must wait for them)."""
        c, u, n = self.config, self.usage, self._reserved_llm * CALL_ESTIMATE_MARGIN
        if self._reserved_llm <= 0:
            return False
        if c.max_cost_usd is not None and (self._calls_seen == 0
                                           or u.cost_usd + n * self._max_call_cost >= c.max_cost_usd):
            return True
        return bool(c.max_tokens is not None and (self._calls_seen == 0
                                                  or u.tokens + n * self._max_call_tokens >= c.max_tokens))

    def waiting_for_spend(self) -> bool:
        """True when a model call is refused only until the calls in flight land."""
        with self._lock:
            return not self._exhausted() and self._spend_in_flight_full()

    def reserve(self, needs_llm: bool) -> bool:
        """Reserve room for one proposal (and one model call if `needs_llm`)."""
        with self._lock:
            reason = self._exhausted()
            if not reason and needs_llm:
                left = self.llm_calls_left()
                if left is not None and left <= 0:
                    reason = f"model-call budget reached ({self.config.llm_calls})"
                elif self._spend_in_flight_full():
                    return False  # not a stop: the calls in flight may leave room
            if reason:
                self.stop_reason = reason
                return False
            self._reserved_proposals += 1
            if needs_llm:
                self._reserved_llm += 1
            return True

    def try_extra_llm_call(self) -> bool:
        """Reserve one more model call inside a proposal (e.g. a diff retry)."""
        with self._lock:
            left = self.llm_calls_left()
            if left is not None and left <= 0 or self._exhausted() or self._spend_in_flight_full():
                return False
            self._reserved_llm += 1
            return True

    def release(self, llm_reserved: int, proposal: bool) -> None:
        with self._lock:
            self._reserved_llm -= llm_reserved
            if proposal:
                self._reserved_proposals -= 1

    def record_llm_call(self, tokens: int, cost: float) -> None:
        with self._lock:
            self._reserved_llm -= 1
            self.usage.llm_calls += 1
            self.usage.tokens += tokens
            self.usage.cost_usd += cost
            self._max_call_cost = max(self._max_call_cost, cost)
            self._max_call_tokens = max(self._max_call_tokens, tokens)
            self._calls_seen += 1

    def record_proposal(self, operator: bool) -> None:
        with self._lock:
            self._reserved_proposals -= 1
            self.usage.proposals += 1
            if operator:
                self.usage.operator_proposals += 1

    def sync(self, *, llm_calls: int, cost: float, tokens: int, proposals: int) -> None:
        """Adopt the run-wide spending read from shared storage (never lowering what this
        controller has counted itself)."""
        with self._lock:
            u = self.usage
            u.llm_calls = max(u.llm_calls, llm_calls)
            u.cost_usd = max(u.cost_usd, cost)
            u.tokens = max(u.tokens, tokens)
            u.proposals = max(u.proposals, proposals)

    def done(self) -> bool:
        """True when no further model call can be made and the other limits stop the run too."""
        with self._lock:
            reason = self._exhausted()
            if not reason:
                left = self.llm_calls_left()
                if left is not None and left <= 0 and self._reserved_llm <= 0:
                    reason = f"model-call budget reached ({self.config.llm_calls})"
            if reason:
                self.stop_reason = reason
            return bool(reason)
