"""End to end: a small model on a server that enforces JSON schemas (ollama/ here) is asked for
its edit as JSON whose ``search`` can only be a real line of the parent, and the JSON reply (even
with the indentation dropped, as small models do) becomes an applied, evaluated child."""
from __future__ import annotations

import json
import re

import pytest

import evoforge
from evoforge.engine.proposer import JSON_EDIT_NOTE
from evoforge.program import AttemptStatus
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer


def json_edit_responder(request: dict) -> str:
    """Pick the ``VALUE = ...`` line from the schema's enum and raise the value, unindented."""
    schema = request["response_format"]["json_schema"]["schema"]
    line = next(ln for ln in schema["properties"]["search"]["enum"] if "VALUE =" in ln)
    current = float(re.search(r"VALUE = ([0-9.]+)", line).group(1))
    new = current + 1.0 + (request.get("seed") or 0) % 7 * 1e-3
    return json.dumps({"search": line, "replace": f"VALUE = {new}"})


def _attempts(result):
    store = open_storage(result.storage_url, read_only=True)
    try:
        return store.attempts(result.run_id)
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["diff", "tweak"])
def test_json_schema_constrained_edits_improve_the_program(value_task, tmp_path, kind):
    with ScriptedOpenAIServer(responder=json_edit_responder) as srv:
        result = evoforge.run(value_task, llm=f"ollama/tiny@{srv.base_url}", budget=6, run_dir=tmp_path / kind,
                              overrides={"mutation.weights": {kind: 1.0}, "search.novelty": False})
        requests = list(srv.requests)
    assert len(requests) == 6
    assert all("response_format" in r for r in requests)
    assert not any(key in r for r in requests for key in ("grammar", "guided_grammar", "structured_outputs"))
    assert all(JSON_EDIT_NOTE in r["messages"][-1]["content"] for r in requests)
    enums = [r["response_format"]["json_schema"]["schema"]["properties"]["search"]["enum"] for r in requests]
    assert all(len(e) == 1 and e[0].startswith("    VALUE = ") for e in enums) if kind == "tweak" else \
        all(any(x.startswith("    VALUE = ") for x in e) and "def value():" not in e for e in enums)
    attempts = _attempts(result)
    children = [a for a in attempts if a.mutation != "initial"]
    assert len(children) == 6
    assert all(a.status is AttemptStatus.OK for a in children), [(a.status, a.reason) for a in children]
    assert all(a.response.startswith("{") for a in children)           # the raw JSON reply is kept
    assert all("\n    VALUE = " in a.code for a in children)           # re-indented before applying
    assert result.best is not None and result.best.score >= 3.0


def test_a_non_json_reply_is_a_parse_failure_with_a_reason_and_a_retry(value_task, tmp_path):
    with ScriptedOpenAIServer(["I would make VALUE bigger."], responder=json_edit_responder) as srv:
        result = evoforge.run(value_task, llm=f"ollama/tiny@{srv.base_url}", budget=2, run_dir=tmp_path / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.novelty": False})
        requests = list(srv.requests)
    assert len(requests) == 2                                           # the in-conversation retry
    retry_prompt = requests[1]["messages"]
    assert "not a JSON edit" in retry_prompt[-1]["content"] and JSON_EDIT_NOTE in retry_prompt[-1]["content"]
    children = [a for a in _attempts(result) if a.mutation != "initial"]
    assert len(children) == 1                                           # both calls went to one proposal
    child = children[0]
    assert child.response.startswith("I would make VALUE bigger.") and "--- retry 1 ---" in child.response
    assert child.status is AttemptStatus.OK and child.score >= 2.0


def test_a_server_that_ignores_the_schema_still_gets_its_text_edits_applied(value_task, tmp_path):
    from evoforge.testing.tasks import increment_responder

    with ScriptedOpenAIServer(responder=increment_responder) as srv:   # answers SEARCH/REPLACE text
        result = evoforge.run(value_task, llm=f"ollama/tiny@{srv.base_url}", budget=3, run_dir=tmp_path / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.novelty": False})
        assert all("response_format" in r for r in srv.requests)
    children = [a for a in _attempts(result) if a.mutation != "initial"]
    assert children[0].status is AttemptStatus.OK and children[0].response.startswith("<<<<<<< SEARCH")
    assert result.best.score >= 2.0


def test_json_tweaks_remember_the_line_so_the_next_tweak_picks_another(tmp_path):
    from evoforge.engine.proposer import ModelRequest, ParentView, model_child
    from evoforge.llm import create_provider

    code = "# EVOLVE-BLOCK-START\ndef f():\n    a = 1\n    b = 2\n    return a + b\n# EVOLVE-BLOCK-END\n"

    def first_line(request: dict) -> str:
        line = request["response_format"]["json_schema"]["schema"]["properties"]["search"]["enum"][0]
        return json.dumps({"search": line, "replace": line.strip().replace("= ", "= 1")})

    tweaked: set[str] = set()
    with ScriptedOpenAIServer(responder=first_line) as srv:
        provider = create_provider(f"ollama/tiny@{srv.base_url}")
        for seed in (1, 2):
            req = ModelRequest(
                kind="tweak", parent=ParentView("p", code, 3.0), inspirations=[], other=None,
                task_description="make f() larger", direction="maximize", language="python", profile="small",
                temperature=0.7, max_tokens=200, seed=seed, constrained=True, insights=[], failure_note=None,
                diff_retries=0, tweaked_lines=tweaked,
            )
            draft = model_child(req, provider, cost_of=lambda r: 0.0, allow_extra_call=lambda: True,
                                on_call=lambda c: None, seen_replies=set())
            assert draft.status is AttemptStatus.PENDING and draft.code is not None
        enums = [r["response_format"]["json_schema"]["schema"]["properties"]["search"]["enum"] for r in srv.requests]
    assert enums == [["    a = 1", "    b = 2"], ["    b = 2"]]
    assert tweaked == {"    a = 1", "    b = 2"}
