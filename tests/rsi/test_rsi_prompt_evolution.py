"""Prompt evolution inside an ordinary run: a bandit over system prompts, scored by the programs
they produce, new prompts written by the model (purpose "prompt_evolution") or by operators."""
from __future__ import annotations

import re

from evoforge.engine.core import Engine
from evoforge.engine.runner import run_workers
from evoforge.engine.session import build_providers
from evoforge.executors.local import LocalExecutor
from evoforge.llm.registry import create_provider
from evoforge.program import Attempt, AttemptStatus, LLMCallRecord
from evoforge.rsi.prompt_evolution import PromptEvolvingStrategy, split_rendered
from evoforge.storage import open_storage, sqlite_url_for
from evoforge.task import load_task
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import VALUE_TASK_INITIAL

CTX = dict(task_description="Make value() larger.", parent_code=VALUE_TASK_INITIAL, parent_score=1.0,
           parent_feedback="", mode="diff", inspirations=[], insights=[], profile="large", direction="maximize")


def _render(messages):
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def _told(messages, score, status=AttemptStatus.OK):
    return Attempt(run_id="r", code="x", status=status, score=score, prompt=_render(messages))


def test_observe_credits_the_prompt_that_was_used():
    s = PromptEvolvingStrategy(mutate_every=100)
    msgs = s.build_messages(**CTX)
    assert split_rendered(_render(msgs))[0] == msgs[0]["content"]
    s.observe(_told(msgs, 2.0))
    s.observe(_told(s.build_messages(**CTX), None, AttemptStatus.APPLY_FAILED))
    s.observe(Attempt(run_id="r", code="x", prompt=""))  # an operator proposal: ignored
    [entry] = s.state()["large"]["entries"]
    assert entry["uses"] == 2 and entry["improved"] == 1 and entry["valid"] == 1


def test_mutation_without_a_model_uses_operators_and_grows_the_archive():
    s = PromptEvolvingStrategy(mutate_every=2, max_prompts=4, seed=1)
    for i in range(12):
        s.observe(_told(s.build_messages(**CTX), 1.0 + i % 2))
    entries = s.state()["large"]["entries"]
    assert 2 <= len(entries) <= 4 and all(h["origin"] == "operator" for h in s.history)
    restored = PromptEvolvingStrategy()
    restored.load_state(s.state())
    assert restored.state() == s.state()


def test_in_a_run_the_bandit_learns_which_prompt_pays(value_task, tmp_path):
    """The engine wiring the lead is asked for, done by hand: bind() records model calls with
    purpose prompt_evolution, observe() is an engine listener."""
    def respond(request):
        system = request["messages"][0]["content"]
        if "You write system prompts" in system:
            return "Be bold: EVOLVE-BOLDLY and make one precise change."
        text = "\n".join(m["content"] for m in request["messages"])
        found = re.findall(r"VALUE = ([0-9.]+)", text)
        if not found:
            return "no"
        if "EVOLVE-BOLDLY" not in system:  # only the model-written prompt gets useful edits
            return "Sorry, no edit."
        new = float(found[0]) + 1 + (request.get("seed") or 0) % 7 * 1e-3
        return f"<<<<<<< SEARCH\n    VALUE = {found[0]}\n=======\n    VALUE = {new}\n>>>>>>> REPLACE\n"

    (value_task / "pe.py").write_text("from evoforge.rsi.prompt_evolution import PromptEvolvingStrategy\n\n"
                                      "class Strategy(PromptEvolvingStrategy):\n"
                                      "    def __init__(self):\n        super().__init__(mutate_every=2)\n")
    with ScriptedOpenAIServer(responder=respond) as srv:
        spec = f"openai/scripted@{srv.base_url}"
        task = load_task(value_task, {"strategy": "pe.py", "llm.models": [spec], "budget.llm_calls": 14,
                                      "mutation.weights": {"diff": 1.0}, "mutation.diff_retries": 0})
        store = open_storage(sqlite_url_for(tmp_path / "run.db"))
        info = store.create_run("pe", task.config.to_dict(), str(task.path))
        providers, _ = build_providers(task.config.llm.models, task.config.llm, None)
        engine = Engine(task, store, info, providers)
        impl = engine.strategy.build_messages.__self__
        meta = create_provider(spec, retry=False)

        def llm(messages, purpose):
            resp = meta.complete(messages, temperature=0.7, max_tokens=256)
            store.add_llm_call(LLMCallRecord(run_id=info.id, model=spec, purpose=purpose,
                                             input_tokens=resp.input_tokens, output_tokens=resp.output_tokens))
            return resp.text

        impl.bind(llm)
        engine.listeners.append(impl.observe)
        run_workers(engine, LocalExecutor(), 1)
        calls = store.llm_calls(info.id)
        store.close()
    assert any(c.purpose == "prompt_evolution" for c in calls)
    profile_state = next(iter(impl.state().values()))
    bold = [e for e in profile_state["entries"] if "EVOLVE-BOLDLY" in e["text"]]
    assert bold and bold[0]["improved"] >= 1
    means = {a: s["sum"] / s["n"] for a, s in profile_state["bandit"]["arms"].items() if s["n"]}
    assert means[bold[0]["id"]] == max(means.values())
    assert engine.best.score > 1.0
