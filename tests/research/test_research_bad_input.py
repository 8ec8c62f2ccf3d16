"""Every bad input a user can give the research loop: a clear error naming what to fix, before
any model call or run, and nothing stored in an existing out folder is lost or changed."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from research_helpers import ROOT, copy_topic

from evoforge.research.forms import IDEA, REVIEW, FormError
from evoforge.research.topic import TopicError, load_topic

GOOD = json.loads((ROOT / "examples" / "research_topic" / "seed_ideas.json").read_text())[0]


def test_the_example_topic_loads():
    topic = load_topic(ROOT / "examples" / "research_topic")
    assert topic.settings.seeds == 3 and topic.seed_ideas[0]["title"].startswith("Coarse grid")
    assert "EVOLVE-BLOCK-START" in topic.baseline


@pytest.mark.parametrize("breakage, message", [
    (lambda t: (t / "description.md").unlink(), "no description.md"),
    (lambda t: (t / "description.md").write_text("  \n"), "description.md is empty"),
    (lambda t: __import__("shutil").rmtree(t / "template"), "no template/ folder"),
    (lambda t: (t / "template" / "evaluate.py").unlink(), "not a valid experiment template: .*no evaluate.py"),
    (lambda t: (t / "template" / "initial.py").write_text("def search(f, budget, seed):\n    return 0\n"),
     "the baseline has no EVOLVE-BLOCK-START"),
    (lambda t: (t / "template" / "task.yaml").write_text("name: x\nbudgt: {}\n"),
     "not a valid experiment template: .*unknown config key 'budgt'; did you mean 'budget'"),
    (lambda t: (t / "research.yaml").write_text("idaes: 2\n"), "unknown research key 'idaes'; did you mean 'ideas'"),
    (lambda t: (t / "research.yaml").write_text("draft: {llm_cals: 2}\n"),
     "unknown research key 'draft.llm_cals'; did you mean 'llm_calls'"),
    (lambda t: (t / "research.yaml").write_text("seeds: 0\n"), "'seeds' must be at least 1"),
    (lambda t: (t / "research.yaml").write_text("novelty_threshold: 1.5\n"), "novelty_threshold' must be in"),
    (lambda t: (t / "research.yaml").write_text("isolation: landlok\n"), "did you mean 'landlock'"),
    (lambda t: (t / "research.yaml").write_text("tune: {llm_calls: 3, proposals: 1}\n"),
     "'tune.proposals' \\(1\\) must be at least 'tune.llm_calls' \\(3\\)"),
    (lambda t: (t / "research.yaml").write_text("[1, 2]\n"), "expected a mapping of settings"),
    (lambda t: (t / "research.yaml").write_text("corpus: no_such_folder\n"), "corpus folder .* does not exist"),
    (lambda t: (t / "seed_ideas.json").write_text("{not json"), "seed_ideas.json: not valid JSON"),
    (lambda t: (t / "seed_ideas.json").write_text(json.dumps([{**GOOD, "novelty": 11}])),
     "idea 1: idea field 'novelty' must be from 1 to 10, got 11"),
    (lambda t: (t / "seed_ideas.json").write_text(json.dumps([{k: v for k, v in GOOD.items() if k != "title"}])),
     "missing the field\\(s\\): title"),
])
def test_a_broken_topic_is_refused_with_a_clear_message(tmp_path, breakage, message):
    topic = copy_topic(tmp_path)
    breakage(topic)
    with pytest.raises(TopicError, match=message):
        load_topic(topic)


def test_a_missing_topic_and_a_file_as_topic(tmp_path):
    with pytest.raises(TopicError, match="does not exist"):
        load_topic(tmp_path / "nope")
    (tmp_path / "f").write_text("x")
    with pytest.raises(TopicError, match="is not a folder"):
        load_topic(tmp_path / "f")


def test_an_idea_cannot_carry_a_budget_or_extra_fields():
    """The form is exact: a model cannot smuggle settings (a larger budget, a timeout) into an idea."""
    with pytest.raises(FormError, match="unknown field 'timeout'"):
        IDEA.check({**GOOD, "timeout": 9999})
    with pytest.raises(FormError, match="unknown field 'budgets'"):
        IDEA.check({**GOOD, "budgets": {"llm_calls": 1000}})


@pytest.mark.parametrize("reply, message", [
    ("", "the reply is empty"),
    ("Sure! {\"title\": 1}", "not valid JSON"),
    ("```json\n{}\n```\n```json\n{}\n```", "several code blocks"),
    ("[1, 2]", "must be a JSON object, got list"),
    (json.dumps({**GOOD, "feasibility": True}), "'feasibility' must be an integer"),
    (json.dumps({**GOOD, "feasibility": "8"}), "'feasibility' must be an integer"),
    (json.dumps({**GOOD, "feasibility": 7.5}), "'feasibility' must be an integer"),
    (json.dumps({**GOOD, "title": "  "}), "'title' must be a non-empty string"),
    (json.dumps({**GOOD, "hypotesis": "x"}), "unknown field 'hypotesis' \\(did you mean 'hypothesis'\\?\\)"),
])
def test_bad_model_output_is_refused_with_the_reason(reply, message):
    with pytest.raises(FormError, match=message):
        IDEA.parse(reply)


def test_a_good_reply_in_a_fence_and_the_review_form():
    assert IDEA.parse("```json\n" + json.dumps(GOOD) + "\n```")["feasibility"] == 9
    review = {"summary": "s", "strengths": ["a"], "weaknesses": ["b"], "soundness": 5, "novelty": 5,
              "overall": 5, "confidence": 6}
    with pytest.raises(FormError, match="'confidence' must be from 1 to 5, got 6"):
        REVIEW.check(review)
    with pytest.raises(FormError, match="'strengths' must be a list of 1 to 6 strings"):
        REVIEW.check({**review, "confidence": 3, "strengths": []})


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evoforge", "research", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, timeout=300)


def test_the_cli_says_what_is_wrong_and_keeps_an_existing_archive(tmp_path):
    topic = copy_topic(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "research.db").write_bytes(b"")   # stands for an existing archive
    (topic / "research.yaml").write_text("reviewrs: 2\n")
    proc = _cli(str(topic), "--out", str(out))
    assert proc.returncode == 2 and "unknown research key 'reviewrs'; did you mean 'reviewers'" in proc.stderr
    assert "Traceback" not in proc.stderr and (out / "research.db").read_bytes() == b""
    (topic / "research.yaml").write_text("ideas: 0\n")
    proc = _cli(str(topic), "--out", str(out), "--set", "draft.weigths={full: 1}")
    assert proc.returncode == 2 and "did you mean 'weights'" in proc.stderr
    (tmp_path / "file").write_text("keep me")
    proc = _cli(str(topic), "--out", str(tmp_path / "file"))
    assert proc.returncode == 2 and "is a file, not a folder" in proc.stderr
    assert (tmp_path / "file").read_text() == "keep me"
