"""Strategies are programs: a strategy file changes how proposals are made."""
from __future__ import annotations

import evoforge
from evoforge.cli import main
from evoforge.storage import open_storage

STRATEGY = '''
from evoforge.strategy import DefaultStrategy


class Strategy(DefaultStrategy):
    def build_messages(self, **context):
        messages = super().build_messages(**context)
        messages[0] = {"role": "system", "content": "CUSTOM-STRATEGY-MARKER " + messages[0]["content"]}
        return messages

    def mutation_weights(self, weights):
        return {"diff": 1.0}
'''


def test_strategy_file_shapes_prompts_and_kinds(value_task, model_spec, llm_server, tmp_path):
    (value_task / "my_strategy.py").write_text(STRATEGY)
    result = evoforge.run(value_task, llm=model_spec, budget=3, run_dir=tmp_path / "r",
                          overrides={"strategy": "my_strategy.py"})
    s = open_storage(result.storage_url, read_only=True)
    attempts = s.attempts(result.run_id)
    s.close()
    assert all(a.mutation in ("initial", "diff") for a in attempts)
    assert all("CUSTOM-STRATEGY-MARKER" in r["messages"][0]["content"] for r in llm_server.requests)


def test_module_level_functions_work(value_task, model_spec, llm_server, tmp_path):
    (value_task / "fn_strategy.py").write_text("def mutation_weights(weights):\n    return {'diff': 1.0}\n")
    result = evoforge.run(value_task, llm=model_spec, budget=2, run_dir=tmp_path / "r", overrides={"strategy": "fn_strategy.py"})
    assert result.best is not None


def test_broken_strategy_is_a_clear_error(value_task, tmp_path, capsys):
    (value_task / "bad.py").write_text("raise RuntimeError('boom')\n")
    code = main(["run", str(value_task), "--set", "strategy=bad.py", "--quiet", "--run-dir", str(tmp_path / "r"),
                 "--llm", "openai/x@http://127.0.0.1:9/v1"])
    err = capsys.readouterr().err
    assert code == 2 and "failed to load" in err and "boom" in err
    code = main(["run", str(value_task), "--set", "strategy=missing.py", "--quiet", "--run-dir", str(tmp_path / "r2")])
    assert code == 2 and "no file" in capsys.readouterr().err


def test_meta_scratchpad_records_insights_and_feeds_prompts(value_task, llm_server, tmp_path):
    llm_server.push("garbage one", "garbage two", "garbage three")
    result = evoforge.run(value_task, llm=f"openai/gpt-4o@{llm_server.base_url}", budget=8, run_dir=tmp_path / "r",
                          overrides={"mutation.weights": {"diff": 1.0}, "search.insights_interval": 4,
                                     "mutation.diff_retries": 0})
    s = open_storage(result.storage_url, read_only=True)
    events = s.events(result.run_id, "insight")
    purposes = {c.purpose for c in s.llm_calls(result.run_id)}
    s.close()
    assert events and any("failed" in line for e in events for line in e["payload"]["insights"])
    assert "meta_insight" in purposes  # a capable model also writes recommendations
    later_prompts = [r["messages"][-1]["content"] for r in llm_server.requests[-2:]]
    assert any("failed" in p for p in later_prompts)


def test_prompt_evolving_strategy_learns_inside_a_run(value_task, llm_server, tmp_path):
    import shutil
    from pathlib import Path

    src = Path(__file__).resolve().parents[2] / "examples/self_improve/prompt_evolving_strategy.py"
    shutil.copy(src, value_task / "pe.py")
    result = evoforge.run(value_task, llm=f"openai/gpt-4o@{llm_server.base_url}", budget=14, run_dir=tmp_path / "r",
                          overrides={"strategy": "pe.py", "mutation.weights": {"diff": 1.0}})
    s = open_storage(result.storage_url, read_only=True)
    purposes = [c.purpose for c in s.llm_calls(result.run_id)]
    state = s.get_state(result.run_id, "strategy")
    s.close()
    assert "prompt_evolution" in purposes          # the strategy's own model calls are counted and stored
    assert len(purposes) == 14                      # ... within the run's budget
    assert state is not None                        # its state is saved with the run for resume
    resumed = evoforge.resume(result.run_dir, budget=16)
    assert resumed.stats["llm_calls"] == 16


def test_novelty_judge_rejects_the_same_idea(tmp_path):
    from evoforge.testing.openai_server import ScriptedOpenAIServer
    from evoforge.testing.tasks import write_task

    initial = ("# EVOLVE-BLOCK-START\ndef value():\n    VALUE = 1.0\n    a = 1\n    b = 2\n    c = 3\n    d = 4\n"
               "    e = 5\n    return VALUE + 0 * (a + b + c + d + e)\n# EVOLVE-BLOCK-END\n")
    task = write_task(tmp_path / "t", initial=initial)

    def responder(request):
        text = request["messages"][-1]["content"]
        if "meaningfully different" in text:
            return "no"
        return "<<<<<<< SEARCH\n    e = 5\n=======\n    e = 6\n>>>>>>> REPLACE\n"

    with ScriptedOpenAIServer(responder=responder) as srv:
        result = evoforge.run(task, llm=f"openai/s@{srv.base_url}", budget=2, run_dir=tmp_path / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.novelty_judge": True,
                                         "search.judge_threshold": 0.3})
    s = open_storage(result.storage_url, read_only=True)
    attempts = s.attempts(result.run_id)
    purposes = [c.purpose for c in s.llm_calls(result.run_id)]
    s.close()
    assert sorted(purposes) == ["mutation", "novelty_judge"]
    assert attempts[1].status.value == "duplicate" and "novelty judge" in attempts[1].reason


def test_embedding_novelty_rejects_near_copies(tmp_path):
    from evoforge.testing.openai_server import ScriptedOpenAIServer
    from evoforge.testing.tasks import write_task

    task = write_task(tmp_path / "t")
    edit = "<<<<<<< SEARCH\n    VALUE = 1.0\n=======\n    VALUE = 1.5\n>>>>>>> REPLACE\n"
    with ScriptedOpenAIServer(responder=lambda r: edit) as srv:
        result = evoforge.run(task, llm=f"openai/s@{srv.base_url}", budget=1, run_dir=tmp_path / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.novelty": True,
                                         "search.embedding_model": f"openai/embed@{srv.base_url}",
                                         "search.embedding_threshold": 0.95})
        embed_requests = [r for r in srv.requests if "input" in r]
    s = open_storage(result.storage_url, read_only=True)
    attempts = s.attempts(result.run_id)
    calls = s.usage_totals(result.run_id)["calls"]
    s.close()
    assert embed_requests and calls == 1  # embeddings are not model calls of the budget
    assert attempts[1].status.value == "duplicate" and "embedding similarity" in attempts[1].reason
