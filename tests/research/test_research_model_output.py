"""What the loop does with a model that misbehaves: replies that are not the form are stored as
failures and retried; a discussion that cites a number no evaluation produced is refused, kept
in the database and never printed in the report; a model that never fits the form leaves no
idea and no crash."""
from __future__ import annotations

import pytest
from research_helpers import ScriptedResearchModel, copy_topic

from evoforge.research import dashboard, research
from evoforge.research import store as rs
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer


def _events(url: str, kind: str) -> list[dict]:
    store = open_storage(url, read_only=True)
    try:
        return [e["payload"] for e in store.events(store.get_run(rs.RESEARCH_RUN).id, kind)]
    finally:
        store.close()


def test_bad_json_is_stored_and_retried_and_an_invented_number_is_refused(tmp_path):
    topic = copy_topic(tmp_path)
    (topic / "seed_ideas.json").unlink()
    (topic / "research.yaml").write_text((topic / "research.yaml").read_text().replace("reviewers: 2", "reviewers: 1"))
    model = ScriptedResearchModel(bad_first=1, invent="12.5")
    with ScriptedOpenAIServer(responder=model) as srv:
        summary = research(topic, tmp_path / "out", llm=f"openai/s@{srv.base_url}", ideas=1)
    assert [i["status"] for i in summary.ideas] == ["studied"] and summary.ideas[0]["flags"] == 1
    failures = _events(summary.storage_url, rs.FAILURE)
    assert failures[0]["what"] == "idea" and "not valid JSON" in failures[0]["error"]
    assert failures[0]["reply"] == '{"title": "unterminated'
    assert model.asked["idea"] == 3   # the refused reply, its retry, one reflection round
    retry_prompt = next(p for p in model.prompts if "That reply was refused" in p)
    assert "not valid JSON" in retry_prompt
    flags = _events(summary.storage_url, rs.FLAG)
    assert flags == [{"idea": "idea-1", "where": "discussion", "numbers": ["12.5"], "action": "refused",
                      "text": flags[0]["text"]}]
    assert "12.5 times better" in flags[0]["text"]          # kept in the database
    md = (tmp_path / "out" / "reports" / "idea-1" / "report.md").read_text()
    assert "12.5 times" not in md and "12.5)" in md and "discussion was refused" in md
    # the refused discussion is not asked again when the report is re-written with the reviews
    assert model.asked["discussion"] == 1 and "## Reviews" in md


def test_a_discussion_with_only_stored_numbers_is_printed(tmp_path):
    topic = copy_topic(tmp_path)
    model = ScriptedResearchModel()
    with ScriptedOpenAIServer(responder=model) as srv:
        summary = research(topic, tmp_path / "out", llm=f"openai/s@{srv.base_url}")
    md = (tmp_path / "out" / "reports" / "idea-1" / "report.md").read_text()
    assert "The idea reached a mean gap of" in md and _events(summary.storage_url, rs.FLAG) == []
    # the records a dashboard view reads
    view = dashboard.read(summary.storage_url)
    assert [(i["id"], i["status"], i["verdict"], i["meta_overall"]) for i in view["ideas"]] == [
        ("idea-1", "studied", "better", 6)]
    detail = dashboard.read(summary.storage_url, "idea-1")
    assert [s["stage"] for s in detail["stages"]] == ["draft", "debug", "tune"]
    assert detail["report"]["markdown_text"] == md and len(detail["reviews"]) == 4
    with pytest.raises(LookupError, match="no idea 'idea-9'"):
        dashboard.read(summary.storage_url, "idea-9")


def test_a_model_that_never_fits_the_form_leaves_stored_failures_only(tmp_path):
    topic = copy_topic(tmp_path)
    (topic / "seed_ideas.json").unlink()
    model = ScriptedResearchModel(bad_first=100)
    with ScriptedOpenAIServer(responder=model) as srv:
        summary = research(topic, tmp_path / "out", llm=f"openai/s@{srv.base_url}", ideas=2)
    assert summary.ideas == [] and model.asked == {"idea": 6}   # 2 ideas × 3 retries
    assert len(_events(summary.storage_url, rs.FAILURE)) == 6
    assert _events(summary.storage_url, rs.IDEA) == []
