"""An ensemble of models: a bandit learns which model's edits pay; fixed weights are honoured;
the state survives a resume; temperatures are sampled per call."""
from __future__ import annotations

from collections import Counter

import evoforge
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import increment_responder


def test_bandit_prefers_the_model_that_improves(value_task, tmp_path):
    with ScriptedOpenAIServer(responder=increment_responder) as good, \
         ScriptedOpenAIServer(responder=lambda r: "no idea, sorry") as bad:
        g, b = f"openai/good@{good.base_url}", f"openai/bad@{bad.base_url}"
        result = evoforge.run(value_task, budget=30, run_dir=tmp_path / "r",
                              overrides={"llm.models": [g, b], "mutation.weights": {"diff": 1.0},
                                         "mutation.diff_retries": 0, "llm.temperatures": [0.2, 0.9]})
        n_good, n_bad = len(good.requests), len(bad.requests)
        temps = Counter(r["temperature"] for r in good.requests + bad.requests)
    assert n_good + n_bad == 30 and n_good > 2 * n_bad
    # sampled from the list per call; a parent whose model repeated itself is asked hotter
    # (by TEMPERATURE_STEP per repeat), which happens or not depending on what the bad model drew
    from evoforge.rsi.strategy_initial import TEMPERATURE_MAX, TEMPERATURE_STEP

    def base(t: float) -> bool:
        return any(abs(t - b0 - k * TEMPERATURE_STEP) < 1e-9 or (t == TEMPERATURE_MAX and b0 < t)
                   for b0 in (0.2, 0.9) for k in range(20))
    assert {0.2, 0.9} <= set(temps) and all(base(t) for t in temps), temps
    s = open_storage(result.storage_url, read_only=True)
    state = s.get_state(result.run_id, "models")
    s.close()
    assert state["bandit"]["arms"][g]["n"] > state["bandit"]["arms"][b]["n"]

    resumed = evoforge.resume(result.run_dir, budget=30)  # nothing left to do; state reloads without error
    assert resumed.stats["llm_calls"] == 30


def test_fixed_weights_and_zero_weight(value_task, tmp_path):
    with ScriptedOpenAIServer(responder=increment_responder) as a, ScriptedOpenAIServer(responder=increment_responder) as b:
        ma, mb = f"openai/a@{a.base_url}", f"openai/b@{b.base_url}"
        evoforge.run(value_task, budget=6, run_dir=tmp_path / "r",
                     overrides={"llm.models": [ma, mb], "llm.model_selection": "fixed",
                                "llm.model_weights": {ma: 1.0, mb: 0.0}, "mutation.weights": {"diff": 1.0}})
        assert len(a.requests) == 6 and len(b.requests) == 0


def test_model_weights_must_name_models(value_task, tmp_path, capsys):
    from evoforge.cli import main

    code = main(["run", str(value_task), "--quiet", "--run-dir", str(tmp_path / "r"),
                 "--set", "llm.models=[openai/a@http://127.0.0.1:9/v1]", "--set", "llm.model_weights={x: 1}"])
    assert code == 2 and "not one of llm.models" in capsys.readouterr().err


def test_reasoning_effort_sampled_per_call(value_task, tmp_path):
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        evoforge.run(value_task, llm=f"openai/o4-mini@{srv.base_url}", budget=12, run_dir=tmp_path / "r",
                     overrides={"mutation.weights": {"diff": 1.0}, "llm.reasoning_efforts": ["low", "high"]})
        efforts = Counter(r.get("reasoning_effort") for r in srv.requests)
        assert set(efforts) == {"low", "high"}
        assert all("temperature" not in r for r in srv.requests)  # a reasoning model gets none
