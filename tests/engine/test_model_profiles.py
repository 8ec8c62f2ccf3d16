"""Per-model settings: the prompt profile and provider options come from llm.model_options, and
the prior weights of the proposal kinds follow the profile when the config sets none."""
from __future__ import annotations

import evoforge
from evoforge.config import DEFAULT_WEIGHTS
from evoforge.mutate.prompts import _LARGE_SYSTEM
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import increment_responder


def _kinds_state(result) -> dict:
    store = open_storage(result.storage_url, read_only=True)
    try:
        return store.get_state(result.run_id, "kinds") or {}
    finally:
        store.close()


def _run(task, tmp_path, model, options, name, **overrides):
    return evoforge.run(task, llm=model, budget=6, run_dir=tmp_path / name,
                        overrides={"llm.model_options": {model: options}, "search.novelty": False, **overrides})


def test_small_profile_from_model_options(value_task, tmp_path):
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        model = f"openai/tiny@{srv.base_url}"
        _run(value_task, tmp_path, model, {"profile": "small", "supports_grammar": True}, "small",
             **{"mutation.weights": {"diff": 1.0}})
        systems = {r["messages"][0]["content"] for r in srv.requests}
        assert _LARGE_SYSTEM not in systems                      # the short prompt
        assert all(r["max_tokens"] <= 384 for r in srv.requests)  # short replies
        assert all("grammar" in r for r in srv.requests)          # provider option reached the provider


def test_large_profile_by_default_for_a_hosted_model(value_task, tmp_path):
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        model = f"openai/big@{srv.base_url}"
        _run(value_task, tmp_path, model, {}, "large", **{"mutation.weights": {"diff": 1.0}})
        assert all(r["messages"][0]["content"] == _LARGE_SYSTEM for r in srv.requests)
        assert not any("grammar" in r for r in srv.requests)


def test_context_length_option_makes_a_model_small(value_task, tmp_path):
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        model = f"openai/m@{srv.base_url}"
        _run(value_task, tmp_path, model, {"context_length": 2048}, "ctx", **{"mutation.weights": {"diff": 1.0}})
        assert _LARGE_SYSTEM not in {r["messages"][0]["content"] for r in srv.requests}


def test_default_kind_weights_follow_the_profile(value_task, tmp_path):
    from evoforge.engine.core import Engine

    seen = {}
    original = Engine.__init__

    def spy(self, *a, **kw):
        original(self, *a, **kw)
        seen[self.run.id] = dict(self.kinds.weights)

    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        model = f"openai/m@{srv.base_url}"
        try:
            Engine.__init__ = spy
            small = _run(value_task, tmp_path, model, {"profile": "small"}, "w-small")
            large = _run(value_task, tmp_path, model, {"profile": "large"}, "w-large")
            custom = _run(value_task, tmp_path, model, {"profile": "small"}, "w-custom",
                          **{"mutation.weights": {"perturb": 1.0, "diff": 1.0}})
        finally:
            Engine.__init__ = original
    assert seen[small.run_id] == DEFAULT_WEIGHTS["small"]
    assert seen[large.run_id] == DEFAULT_WEIGHTS["large"]
    assert seen[custom.run_id] == {"perturb": 1.0, "diff": 1.0}   # set weights are used as given
    # tiny models rarely rewrite whole programs well: the small prior leans on tweaks and operators
    s, lg = DEFAULT_WEIGHTS["small"], DEFAULT_WEIGHTS["large"]
    assert s["full"] < lg["full"] and s["tweak"] > lg["tweak"] and s["perturb"] > lg["perturb"]


def test_bad_provider_option_names_the_option(value_task, tmp_path, capsys):
    from evoforge.cli import main

    code = main(["run", str(value_task), "--quiet", "--run-dir", str(tmp_path / "r"), "--llm", "openai/m@http://127.0.0.1:9/v1",
                 "--set", "llm.model_options={openai/m@http://127.0.0.1:9/v1: {context_lenght: 10}}"])
    err = capsys.readouterr().err
    assert code == 2 and "context_lenght" in err and "context_length" in err


def test_options_for_an_unused_model_are_reported(value_task, tmp_path, capsys):
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        from evoforge.cli import main

        code = main(["run", str(value_task), "--run-dir", str(tmp_path / "r"), "--llm", f"openai/m@{srv.base_url}",
                     "--budget", "2", "--set", "llm.model_options={ollama/other: {profile: small}}"])
    out = capsys.readouterr()
    assert code == 0 and "llm.model_options.ollama/other is for a model this run does not use" in out.out + out.err
