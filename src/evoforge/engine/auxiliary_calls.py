"""Model calls the engine makes besides proposals: on behalf of a strategy or the novelty judge
(`ask`), and the meta-scratchpad's summaries (`update_insights`). Each stays within the run's
model-call budget and is stored with its purpose.

Why a part of its own: these calls spend the same budget as proposals and must be stored the
same way, so one small object owns "call, account, store" for everything that is not a
proposal; it is given the providers, the budget and the storage, nothing else of the engine.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..llm.base import LLMError, LLMResponse, ProviderBase
from ..program import LLMCallRecord
from ..storage.base import Storage
from .budget import Budget
from .scratchpad import Scratchpad


def cost_of(response: LLMResponse) -> float:
    """Providers price their own calls (they know whether a model is local and free)."""
    return float(response.cost_usd or 0.0)


class AuxiliaryCalls:
    def __init__(self, providers: dict[str, ProviderBase], budget: Budget, storage: Storage, run_id: str, *,
                 max_tokens: int, profile_of: Callable[[str], str]) -> None:
        self.providers = providers
        self.budget = budget
        self.storage = storage
        self.run_id = run_id
        self.max_tokens = max_tokens
        self.profile_of = profile_of

    def ask(self, messages: list[dict[str, str]], purpose: str = "strategy", *,
            grammar: str | None = None, max_tokens: int | None = None) -> str:
        """A model call on behalf of the strategy (or the novelty judge): within budget, stored
        with its purpose. "" when the budget is spent or the call fails."""
        if not self.providers or not self.budget.try_extra_llm_call():  # no providers: a run with no model
            return ""
        spec = next(iter(self.providers))
        return self._call(spec, messages, purpose, temperature=0.9 if grammar is None else 0.0,
                          max_tokens=max_tokens or self.max_tokens, grammar=grammar)

    def update_insights(self, scratchpad: Scratchpad, index: int, *, maximize: bool, task_description: str,
                        best_feedback: str) -> None:
        """Refresh the meta-scratchpad (a model summary only for capable models, within budget)."""
        spec = next(iter(self.providers), None)
        model_call: Any = None
        if spec is not None and self.profile_of(spec) == "large" and self.budget.try_extra_llm_call():
            def model_call(messages: list[dict[str, str]]) -> str:
                return self._call(spec, messages, "meta_insight", temperature=0.3, max_tokens=300)
        scratchpad.update(index, maximize, model_call=model_call, task_description=task_description,
                          best_feedback=best_feedback)

    def _call(self, spec: str, messages: list[dict[str, str]], purpose: str, *, temperature: float,
              max_tokens: int, grammar: str | None = None) -> str:
        """One call whose slot was already reserved: account for it and store it, failed or not."""
        provider = self.providers[spec]
        try:  # a grammar the provider cannot enforce is ignored by it (ProviderBase.complete)
            resp = provider.complete(messages, temperature=temperature, max_tokens=max_tokens, grammar=grammar)
        except LLMError as exc:
            self.budget.record_llm_call(0, 0.0)
            self.storage.add_llm_call(LLMCallRecord(run_id=self.run_id, model=spec, purpose=purpose,
                                                    error=f"{exc.kind}: {exc}"))
            return ""
        cost = cost_of(resp)
        self.budget.record_llm_call(resp.input_tokens + resp.output_tokens, cost)
        self.storage.add_llm_call(LLMCallRecord(
            run_id=self.run_id, model=spec, purpose=purpose, input_tokens=resp.input_tokens,
            output_tokens=resp.output_tokens, reasoning_tokens=resp.reasoning_tokens, latency_s=resp.latency_s,
            cost_usd=cost))
        return resp.text
