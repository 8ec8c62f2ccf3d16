"""The research loop's model calls on a small context (the embedded SmolLM2 reads 2,048 tokens):
every prompt is fitted before it is sent, with a note where it was cut; a refused-as-malformed
request is not resent unchanged; an idea title that runs on is refused, not printed. Over the
real local OpenAI-protocol server, with the provider told its context is 2,048 tokens."""
from __future__ import annotations

import json

import pytest
from research_helpers import REVIEW

from evoforge.llm.registry import create_provider
from evoforge.research import store as rs
from evoforge.research.asking import Asker, fit_messages
from evoforge.research.forms import IDEA, FormError
from evoforge.research.forms import REVIEW as FORM
from evoforge.research.review import MARKER, review
from evoforge.research.store import ResearchStore
from evoforge.testing.openai_server import ScriptedOpenAIServer, error


def _asker(srv, store, context=2048, retries=3):
    provider = create_provider(f"openai/s@{srv.base_url}", retry={"max_attempts": 1}, context_length=context)
    return Asker(provider, store, retries=retries, temperature=0.0, max_tokens=700)


def _chars(request):
    return sum(len(m["content"]) for m in request["messages"])


def test_a_long_report_is_cut_to_fit_and_the_form_is_kept(tmp_path):
    report = "# A study\n\n" + "\n".join(f"| seed {i} | 0.{i:04d} [abcd{i:04d}] |" for i in range(900))
    store = ResearchStore(tmp_path)
    try:
        with ScriptedOpenAIServer(responder=lambda request: json.dumps(REVIEW)) as srv:
            asker = _asker(srv, store)
            reviews, meta = review(asker, store, "idea-1", report, reviewers=2, reflections=1)
            sent = list(srv.requests)
        assert len(reviews) == 2 and meta is not None       # 2 reviews, 2 reflections, 1 meta-review
        assert len(sent) == 5 and len(report) > 3 * asker.room_chars
        for request in sent:
            assert _chars(request) <= asker.room_chars and request["max_tokens"] == 2048 // 3
        first = sent[0]["messages"][-1]["content"]
        assert first.startswith(MARKER) and "# A study" in first              # what is asked is kept
        assert "characters cut here to fit the model's context" in first
        assert '"confidence": integer 1-5' in first                          # and the form at its end
    finally:
        store.close()


def test_a_large_context_gets_the_whole_prompt(tmp_path):
    report = "# A study\n\n" + "x" * 20_000
    store = ResearchStore(tmp_path)
    try:
        with ScriptedOpenAIServer(responder=lambda request: json.dumps(REVIEW)) as srv:
            review(_asker(srv, store, context=128_000), store, "idea-1", report, reviewers=1, reflections=0)
            sent = list(srv.requests)
        assert report in sent[0]["messages"][-1]["content"] and sent[0]["max_tokens"] == 700
    finally:
        store.close()


def test_a_request_refused_as_malformed_is_not_sent_again(tmp_path):
    store = ResearchStore(tmp_path)
    try:
        with ScriptedOpenAIServer([error(400, "Requested tokens exceed context window")]) as srv:
            record = _asker(srv, store).form(IDEA, [{"role": "user", "content": "an idea"}], what="idea")
            assert record is None and len(srv.requests) == 1
        failures = [e["payload"] for e in store.storage.events(store.run_id, rs.FAILURE)]
        assert len(failures) == 1 and "bad_request" in failures[0]["error"]
    finally:
        store.close()


def test_a_refused_reply_is_not_carried_into_a_small_context(tmp_path):
    long_bad = "{" + "x" * 5000
    store = ResearchStore(tmp_path)
    try:
        with ScriptedOpenAIServer([long_bad, json.dumps(REVIEW)]) as srv:
            asker = _asker(srv, store)
            record = asker.form(FORM, [{"role": "user", "content": "review it"}], what="review 1")
            sent = list(srv.requests)
        assert record == REVIEW and len(sent) == 2
        retry = sent[1]["messages"]
        assert all(m["content"] != long_bad for m in retry) and "was refused" in retry[-1]["content"]
    finally:
        store.close()


def test_fit_messages_leaves_what_fits_alone_and_cuts_only_the_longest():
    short = [{"role": "system", "content": "s"}, {"role": "user", "content": "u" * 50}]
    assert fit_messages(short, 100) is short
    msgs = [{"role": "system", "content": "keep me"}, {"role": "user", "content": "a" * 600 + "b" * 400}]
    fitted = fit_messages(msgs, 500)
    assert fitted[0] == msgs[0] and sum(len(m["content"]) for m in fitted) <= 500
    assert fitted[1]["content"].startswith("a") and fitted[1]["content"].endswith("b")


def test_a_title_that_runs_on_is_refused():
    idea = {"title": "The idea is sound and very efficient. " * 5, "hypothesis": "h", "planned_change": "p",
            "expected_effect": "e", "interestingness": 5, "feasibility": 5, "novelty": 5}
    with pytest.raises(FormError, match="title' is longer than 100 characters"):
        IDEA.check(idea)
    assert IDEA.json_schema()["properties"]["title"]["maxLength"] == 100
    assert "{1,100}" in IDEA.grammar() and "at most 100 characters" in IDEA.describe()
