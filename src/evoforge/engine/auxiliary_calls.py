"""Model calls the engine makes besides proposals: on behalf of a strategy or the novelty judge
(`_strategy_llm`), and the meta-scratchpad's summaries (`_update_insights`). Each stays within the
run's model-call budget and is stored with its purpose.

A mixin of `Engine`: these methods use the engine's providers, budget, storage and config.
"""
from __future__ import annotations

from typing import Any

from ..program import LLMCallRecord


class AuxiliaryModelCalls:
    def _strategy_llm(self, messages: list[dict[str, str]], purpose: str = "strategy", *,
                      grammar: str | None = None, max_tokens: int | None = None) -> str:
        """A model call on behalf of the strategy (or the novelty judge): within budget, stored
        with its purpose."""
        from ..llm.base import LLMError

        if not self.budget.try_extra_llm_call():
            return ""
        spec = next(iter(self.providers))
        try:
            provider = self.providers[spec]
            resp = provider.complete(messages, temperature=0.9 if grammar is None else 0.0,
                                     max_tokens=max_tokens or self.cfg.llm.max_tokens,
                                     grammar=grammar if getattr(provider, "supports_grammar", False) else None)
        except LLMError as exc:
            self.budget.record_llm_call(0, 0.0)
            self.storage.add_llm_call(LLMCallRecord(run_id=self.run.id, model=spec, purpose=purpose, error=f"{exc.kind}: {exc}"))
            return ""
        cost = self._cost(resp)
        self.budget.record_llm_call(resp.input_tokens + resp.output_tokens, cost)
        self.storage.add_llm_call(LLMCallRecord(
            run_id=self.run.id, model=spec, purpose=purpose, input_tokens=resp.input_tokens,
            output_tokens=resp.output_tokens, reasoning_tokens=resp.reasoning_tokens, latency_s=resp.latency_s,
            cost_usd=cost))
        return resp.text

    def _update_insights(self, index: int) -> None:
        """Refresh the meta-scratchpad (a model summary only for capable models, within budget)."""
        try:
            spec = next(iter(self.providers))
            provider = self.providers[spec]
            profile = self.profile_of(spec)
            model_call: Any = None
            if profile == "large" and self.budget.try_extra_llm_call():
                def summarize_with_model(messages: list[dict[str, str]]) -> str:
                    from ..llm.base import LLMError

                    try:
                        resp = provider.complete(messages, temperature=0.3, max_tokens=300)
                    except LLMError as exc:
                        self.budget.record_llm_call(0, 0.0)
                        self.storage.add_llm_call(LLMCallRecord(run_id=self.run.id, model=spec, purpose="meta_insight",
                                                                error=f"{exc.kind}: {exc}"))
                        return ""
                    self.budget.record_llm_call(resp.input_tokens + resp.output_tokens, self._cost(resp))
                    self.storage.add_llm_call(LLMCallRecord(
                        run_id=self.run.id, model=spec, purpose="meta_insight", input_tokens=resp.input_tokens,
                        output_tokens=resp.output_tokens, reasoning_tokens=resp.reasoning_tokens,
                        latency_s=resp.latency_s, cost_usd=self._cost(resp)))
                    return resp.text
                model_call = summarize_with_model
            best_feedback = self.best.feedback if self.best else ""
            self.scratchpad.update(index, self.task.maximize, model_call=model_call,
                                   task_description=self.cfg.description, best_feedback=best_feedback)
        finally:
            self._insights_busy = False
