"""The Research view on a real `evoforge research --out` folder: the loop run once per module from a
fresh process with the scripted research model (tests/research) over the real local
OpenAI-protocol server, then opened as `evoforge ui OUT` opens it; the API over real HTTP, the
page in headless Chromium. The model's discussion cites an invented number wrapped in markup, so
the loop refuses it and the page must show it, flagged, as text."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ui_helpers import get, open_view, screenshot, wait_for

from evoforge.errors import UserError
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.ui.server import DashboardServer, start_in_thread
from evoforge.ui.sources import RunRegistry

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "research"))
from research_helpers import ROOT, ScriptedResearchModel, copy_topic  # noqa: E402

pytestmark = pytest.mark.slow
HOSTILE = '<b id="pwned">1000</b>'


@pytest.fixture(scope="module")
def research_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("research_ui")
    topic, out = copy_topic(tmp), tmp / "out"
    with ScriptedOpenAIServer(responder=ScriptedResearchModel(invent=HOSTILE)) as srv:
        done = subprocess.run([sys.executable, "-m", "evoforge", "research", str(topic), "--out", str(out),
                               "--llm", f"openai/s@{srv.base_url}"], capture_output=True, text=True, timeout=900,
                              env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr
    return out


def _serve(out: Path) -> tuple[RunRegistry, DashboardServer]:
    registry = RunRegistry([str(out)])      # what `evoforge ui OUT` does
    return registry, start_in_thread(registry)


@pytest.fixture(scope="module")
def research_dashboard(research_out: Path) -> Iterator[DashboardServer]:
    registry, server = _serve(research_out)
    yield server
    server.shutdown()
    server.server_close()
    registry.close()


def _keys(server: DashboardServer) -> dict[str, str]:
    status, _, body = get(server, "/api/runs")
    assert status == 200
    return {r["name"]: r["key"] for r in body["runs"]}


def test_the_api_serves_ideas_stages_measurement_report_and_reviews(research_dashboard, research_out):
    keys = _keys(research_dashboard)
    assert set(keys) == {"research", "idea-1-draft"}     # the out folder's database: the loop's run and its stage run
    rk = keys["research"]
    status, _, overview = get(research_dashboard, f"/api/runs/{rk}/research")
    assert status == 200 and [i["id"] for i in overview["ideas"]] == ["idea-1"]
    idea = overview["ideas"][0]
    assert idea["status"] == "studied" and idea["verdict"] == "better" and idea["meta_overall"] == 6
    assert overview["flags"] == 1

    status, _, d = get(research_dashboard, f"/api/runs/{rk}/research/idea-1")
    assert status == 200 and d["status"] == "studied"
    draft = d["stages"][0]
    assert (draft["stage"], draft["status"], draft["run_key"]) == ("draft", "ran", keys["idea-1-draft"])
    assert [s["run_key"] for s in d["stages"][1:]] == [None, None]          # skipped stages have no run
    status, _, best = get(research_dashboard, f"/api/runs/{draft['run_key']}/attempts/{draft['best_id']}")
    assert status == 200 and best["id"] == draft["best_id"]                  # the stage's link target exists
    assert d["outcome"]["result"]["mean"] < d["outcome"]["baseline"]["mean"]
    assert {(r["reviewer"], r["round"]) for r in d["reviews"]} == {(1, 0), (1, 1), (2, 0), (2, 1)}
    assert d["meta_review"]["record"]["overall"] == 6
    assert d["flags"][0]["action"] == "refused" and HOSTILE in d["flags"][0]["text"]

    status, headers, page = get(research_dashboard, d["report_page"])
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert page == (research_out / "reports" / "idea-1" / "report.html").read_bytes()
    assert "sandbox" in headers["content-security-policy"] and "script-src" not in headers["content-security-policy"]


def test_bad_requests_get_clear_errors_and_no_file_outside_reports(research_dashboard, research_out):
    keys = _keys(research_dashboard)
    rk, draft = keys["research"], keys["idea-1-draft"]
    for path, message in [
        (f"/api/runs/{rk}/research/idea-9", "no idea 'idea-9'"),
        (f"/api/runs/{rk}/research_report/idea-9", "no idea 'idea-9'"),
        (f"/api/runs/{rk}/research_report/..%2F..%2Fresearch.db", "no idea '../../research.db'"),
        (f"/api/runs/{rk}/research_report/%2Fetc%2Fpasswd", "no idea '/etc/passwd'"),
        (f"/api/runs/{draft}/research", "is not a research run"),
    ]:
        status, _, body = get(research_dashboard, path)
        assert status == 404 and message in body["error"], (path, body)


def test_a_report_outside_reports_or_missing_is_not_served(research_out, tmp_path):
    copy = shutil.copytree(research_out, tmp_path / "moved")        # a moved out folder still finds its reports
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "report.html").write_text("<p>secret</p>")
    shutil.rmtree(copy / "reports" / "idea-1")
    (copy / "reports" / "idea-1").symlink_to(outside, target_is_directory=True)
    registry, server = _serve(copy)
    try:
        rk = _keys(server)["research"]
        status, _, d = get(server, f"/api/runs/{rk}/research/idea-1")
        assert status == 200 and d["report_page"] is None and d["report"]["markdown_text"]  # the Markdown still shows
        status, _, body = get(server, f"/api/runs/{rk}/research_report/idea-1")
        assert status == 404 and "no report.html under reports/" in body["error"]
    finally:
        server.shutdown()
        server.server_close()
        registry.close()
    assert (outside / "report.html").read_text() == "<p>secret</p>"


def test_a_folder_without_a_database_is_still_refused(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="not a run folder"):
        RunRegistry([str(tmp_path / "empty")])


def _text(driver: Any, css: str) -> str:
    return driver.execute_script(f"const e = document.querySelector({css!r}); return e ? e.textContent : '';")


def test_the_research_view_in_chromium(browser, research_dashboard):
    keys = _keys(research_dashboard)
    rk, draft = keys["research"], keys["idea-1-draft"]
    link = "return (() => { const a = document.querySelector('#nav a[data-view=research]'); return a && !a.hidden; })()"
    open_view(browser, research_dashboard, f"{draft}/overview")
    wait_for(browser, lambda d: d.execute_script(
        "const a = document.querySelector('#nav a[data-view=research]'); return a && a.hidden;"),
        what="the Research link hidden for a stage run")
    open_view(browser, research_dashboard, f"{rk}/research")
    wait_for(browser, lambda d: d.execute_script(link), what="the Research link shown for the research run")
    wait_for(browser, lambda d: "better" in _text(d, "table.research-ideas"), what="the ideas table")
    row = _text(browser, "table.research-ideas tbody tr")
    assert "idea-1" in row and "Coarse grid" in row and "studied" in row and "feasibility 9" in row
    screenshot(browser, "research-ideas")

    browser.find_element("css selector", "a.idea-link").click()
    wait_for(browser, lambda d: _text(d, "#research-verdict") == "better", what="the idea page")
    assert " ± " in _text(browser, "#research-idea-mean") and "2 seeds" in _text(browser, "#research-baseline-mean")
    assert "Reviewer 2, round 1 · overall 6, confidence 3" in _text(browser, ".view")
    assert "only a few seeds" in _text(browser, "#research-meta-review")
    flagged = _text(browser, ".flagged")
    assert HOSTILE in flagged and "kept out of the report" in flagged          # shown as text, marked
    assert browser.execute_script("return document.getElementById('pwned') === null")
    href = browser.execute_script("return document.getElementById('research-report-link').getAttribute('href')")
    assert href == f"/api/runs/{rk}/research_report/idea-1"
    assert "## Results" in browser.execute_script("return document.getElementById('research-report-md').textContent")
    screenshot(browser, "research-idea")

    browser.find_element("css selector", "table.research-stages a.stage-link.attempt").click()
    wait_for(browser, lambda d: d.execute_script("return location.hash").startswith(f"#/{draft}/attempt/"),
             what="the best attempt's page of the draft run")
    wait_for(browser, lambda d: d.execute_script("return !!document.querySelector('#view .attempt-page')"),
             what="the attempt page to draw")

    browser.get(research_dashboard.url.rstrip("/") + href)
    wait_for(browser, lambda d: "Results" in d.execute_script("return document.body ? document.body.textContent : ''"),
             what="report.html served")
