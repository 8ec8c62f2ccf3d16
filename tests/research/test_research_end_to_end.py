"""`evoforge research` on the example topic, from a fresh process as a user runs it, with the
scripted model over the real local OpenAI-protocol server; then a second invocation on the same
out folder, whose ideation prompt shows the first idea's measured outcome (the open archive)."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from research_helpers import ROOT, ScriptedResearchModel, copy_topic

from evoforge.program import AttemptStatus
from evoforge.research import store as rs
from evoforge.research.pdf import find_renderer
from evoforge.storage import open_storage, sqlite_url_for
from evoforge.testing.openai_server import ScriptedOpenAIServer

SRC = str(ROOT / "src")


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evoforge", "research", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": SRC, "COLUMNS": "120"}, timeout=900)


def test_the_whole_loop_end_to_end_and_the_archive_across_invocations(tmp_path):
    topic, out = copy_topic(tmp_path), tmp_path / "out"
    model = ScriptedResearchModel()
    with ScriptedOpenAIServer(responder=model) as srv:
        first = _cli(str(topic), "--out", str(out), "--llm", f"openai/s@{srv.base_url}")
        assert first.returncode == 0, first.stderr
        assert "idea-1  studied" in first.stdout and "verdict: better" in first.stdout
        # a second invocation: one new idea from the model, which must see idea-1's measured outcome
        second = _cli(str(topic), "--out", str(out), "--llm", f"openai/s@{srv.base_url}", "--ideas", "1")
        assert second.returncode == 0, second.stderr
    ideation = [p for p in model.prompts if "RESEARCH IDEA FORM" in p]
    assert ideation and "idea-1: Coarse grid then shrinking local search" in ideation[0]
    assert "measured: better" in ideation[0]
    assert "idea-2  studied" in second.stdout and "idea-1" not in second.stdout  # the seed idea is not rerun

    store = open_storage(sqlite_url_for(out / "research.db"), read_only=True)
    try:
        research = store.get_run(rs.RESEARCH_RUN)
        ideas = [e["payload"] for e in store.events(research.id, rs.IDEA)]
        assert [i["id"] for i in ideas] == ["idea-1", "idea-2"]
        assert ideas[1]["novelty_check"]["source"] == "idea idea-1"   # compared offline with the archive
        stages = [e["payload"] for e in store.events(research.id, rs.EXPERIMENT)]
        assert [(s["idea"], s["stage"], s["status"]) for s in stages][:3] == [
            ("idea-1", "draft", "ran"), ("idea-1", "debug", "skipped"), ("idea-1", "tune", "skipped")]
        draft = store.get_run("idea-1-draft")
        assert draft is not None and draft.config["budget"]["llm_calls"] == 1  # the topic's budget, in the run
        reviews = [e["payload"] for e in store.events(research.id, rs.REVIEW) if e["payload"]["idea"] == "idea-1"]
        assert {(r["reviewer"], r["round"]) for r in reviews} == {(1, 0), (1, 1), (2, 0), (2, 1)}
        metas = [e["payload"] for e in store.events(research.id, rs.META)]
        assert [m["idea"] for m in metas] == ["idea-1", "idea-2"] and metas[0]["record"]["overall"] == 6
        outcome = next(e["payload"] for e in store.events(research.id, rs.OUTCOME) if e["payload"]["idea"] == "idea-1")
        assert outcome["verdict"] == "better" and outcome["idea_mean"] < outcome["baseline_mean"]
        attempts = {a.id: a for a in store.attempts(research.id)}
        # the baseline was measured once and reused by the second invocation
        baseline = [a for a in attempts.values() if a.metrics.get("role") == "baseline"]
        assert len(baseline) == 2 and all(a.status is AttemptStatus.OK for a in baseline)

        md = (out / "reports" / "idea-1" / "report.md").read_text()
        html = (out / "reports" / "idea-1" / "report.html").read_text()
        assert "## Results" in md and "## Ablation" in md and "```diff" in md and "## Reviews" in md
        assert "data:image/" in html and "<script" not in html   # self-contained, no scripts
        reports = [e["payload"] for e in store.events(research.id, rs.REPORT) if e["payload"]["idea"] == "idea-1"]
        if find_renderer() is not None:   # Chromium (scripts/test.sh installs it) prints the reviewed report
            assert reports[-1]["pdf"] and (out / "reports" / "idea-1" / "report.pdf").read_bytes()[:5] == b"%PDF-"
            assert "report.pdf" in first.stdout and "idea-1: PDF " in first.stderr
        else:
            assert reports[-1]["pdf"] is None and "no PDF renderer found" in reports[-1]["pdf_note"]
        # every id cited in the report (in brackets) is a stored attempt of some run
        every = {a.id for run in store.list_runs() for a in store.attempts(run.id, with_code=False)}
        cited = {c for group in re.findall(r"\[([0-9a-f]{8}(?:, [0-9a-f]{8})*)(?: …)?\]", md) for c in group.split(", ")}
        assert len(cited) >= 6
        assert all(any(i.startswith(c) for i in every) for c in cited), cited
        for seed_cell in re.findall(r"(\d{6}): (\S+) \[([0-9a-f]{8})\]", md):
            seed, value, aid = seed_cell
            a = next(a for i, a in attempts.items() if i.startswith(aid))
            assert a.metrics["seed"] == int(seed) and float(value) == float(f"{a.score:.4g}")
    finally:
        store.close()

