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
