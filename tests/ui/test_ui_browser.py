"""The dashboard in headless Chromium, on real run databases: what a person would check.

Each test opens a view, checks that its plots are drawn *with the run's data* (numbers of marks
match the database), clicks where a person would click, and saves a screenshot of the view under
artifacts/screenshots/.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from ui_helpers import open_view, screenshot, wait_for

from evoforge.program import AttemptStatus
from evoforge.ui.server import start_in_thread
from evoforge.ui.sources import RunRegistry

pytestmark = pytest.mark.slow


def count(driver, css: str) -> int:
    return int(driver.execute_script("return document.querySelectorAll(arguments[0]).length", css))


def text_of(driver, css: str) -> str:
    return str(driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null", css))


def test_progress_plots_show_every_attempt(browser, dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    attempts = store.attempts(info.id, with_code=False)
    ok = [a for a in attempts if a.is_program]
    failed = [a for a in attempts if not a.is_program]
    open_view(browser, dashboard, f"{info.id}/overview")
    wait_for(browser, lambda d: count(d, "#plot-progress circle.pt") == len(ok), what="one dot per valid program")
    assert count(browser, "#plot-progress .series-rug line") == len(failed)
    assert count(browser, "#plot-progress .series-step path") == 1
    assert count(browser, "#plot-cost circle.pt") == len(ok)  # this run has a model spend
    assert text_of(browser, "#stat-attempts") == str(len(attempts))
    assert text_of(browser, "#stat-programs") == str(len(ok))
    assert text_of(browser, "#stat-calls") == "20"
    best = store.best_attempts(info.id, 1)[0]
    assert float(text_of(browser, "#stat-best")) == pytest.approx(best.score, rel=1e-5)
    screenshot(browser, "01_progress")
    # the app fetched nothing from outside the dashboard (no CDN, no fonts)
    resources = browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    assert resources and all(r.startswith(dashboard.url) for r in resources), resources
    severe = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert severe == []


def test_private_scores_toggle(browser, dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    ok = [a for a in store.attempts(info.id, with_code=False) if a.is_program]
    open_view(browser, dashboard, f"{info.id}/overview")
    browser.find_element("id", "toggle-private").click()
    wait_for(browser, lambda d: count(d, "#plot-progress .series-hollow circle.pt") == len(ok), what="private score marks")


def test_genealogy_node_opens_its_code(browser, dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    attempts = store.attempts(info.id)
    open_view(browser, dashboard, f"{info.id}/tree")
    wait_for(browser, lambda d: count(d, "#plot-tree circle.node") == len(attempts), what="one node per attempt")
    edges = sum(1 for a in attempts if a.parent_id)
    assert count(browser, "#plot-tree path.edge") == edges
    assert count(browser, "#plot-tree circle.node.best") == 1
    screenshot(browser, "02_genealogy")
    target = next(a for a in reversed(attempts) if a.model and a.is_program and a.parent_id)
    browser.find_element("css selector", f'#plot-tree circle.node[data-id="{target.id}"]').click()
    wait_for(browser, lambda d: text_of(d, ".attempt-page #attempt-code") not in ("None", ""), what="the program page")
    assert target.id in browser.current_url
    code = text_of(browser, "#attempt-code")
    assert code.strip() == target.code.strip()
    assert text_of(browser, "#attempt-prompt") == target.prompt
    assert text_of(browser, "#attempt-response") == target.response
    assert "+    VALUE" in text_of(browser, "#attempt-diff")
    assert text_of(browser, "#attempt-feedback") == target.feedback
    assert "private score" in text_of(browser, "table.metrics")
    assert text_of(browser, "#attempt-stdout").startswith("value=")
    screenshot(browser, "03_program")
    browser.find_element("id", "prev-attempt").click()  # walk the run from the program page
    wait_for(browser, lambda d: f"#{target.proposal_index - 1} " in text_of(d, "#attempt-title"), what="previous attempt")


def test_failed_attempt_page_says_why(browser, dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    failed = next(a for a in store.attempts(info.id) if not a.is_program)
    open_view(browser, dashboard, f"{info.id}/attempt/{failed.id}")
    wait_for(browser, lambda d: text_of(d, "#attempt-reason") == failed.reason, what="the failure reason")
    assert failed.status.value in text_of(browser, "dl.info")


def test_islands_and_map_elites_heatmaps(browser, dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    ok = [a for a in store.attempts(info.id, with_code=False) if a.is_program]
    open_view(browser, dashboard, f"{info.id}/islands")
    wait_for(browser, lambda d: count(d, "#plot-island-heatmap rect.cell.filled") > 0, what="island heatmap")
    labels = browser.execute_script(
        "return Array.from(document.querySelectorAll('#plot-island-heatmap .cell-label')).map(t => +t.textContent)")
    assert sum(labels) == len(ok)  # every valid program counted once
    assert count(browser, "#plot-islands .series-step path") == len({a.island for a in ok})
    # the run's configured grid (search.map_elites: value in 10 bins x spread in 4 bins) is the default
    assert browser.find_element("id", "map-x").get_attribute("value") == "value"
    assert browser.find_element("id", "map-y").get_attribute("value") == "spread"
    assert count(browser, "#plot-map-elites rect.cell") == 40
    assert count(browser, "#plot-map-elites rect.cell.filled") >= 3
    screenshot(browser, "04_islands_map_elites")
    browser.find_element("css selector", "#plot-map-elites rect.cell.filled").click()
    wait_for(browser, lambda d: "/attempt/" in d.current_url and text_of(d, "#attempt-code") not in ("None", ""),
             what="the cell's elite program")


def test_models_and_bandit(browser, dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    kinds = store.get_state(info.id, "kinds")
    open_view(browser, dashboard, f"{info.id}/models")
    wait_for(browser, lambda d: count(d, "#plot-model-usage rect.bar") == 2, what="one bar per model")
    assert count(browser, "#plot-kinds rect.bar") == len(kinds)
    assert "openai/alpha@" in text_of(browser, "#view table") and "openai/beta@" in text_of(browser, "#view table")
    screenshot(browser, "05_models")


def test_failures_by_status_and_reason(browser, dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    failed = [a for a in store.attempts(info.id, with_code=False) if not a.is_program]
    assert failed, "the scripted model is meant to fail sometimes"
    open_view(browser, dashboard, f"{info.id}/failures")
    wait_for(browser, lambda d: count(d, "#plot-failures rect.bar") == len({a.status for a in failed}), what="status bars")
    assert count(browser, "#plot-failure-rate path.line") == 1
    rows = browser.execute_script("return Array.from(document.querySelectorAll('table.reasons tbody tr td:nth-child(3)')).map(t => +t.textContent)")
    assert sum(rows) == len(failed)
    screenshot(browser, "06_failures")


def test_safety_and_insights_with_and_without_events(browser, dashboard, ui_runs):
    open_view(browser, dashboard, f"{ui_runs.main_id}/safety")
    wait_for(browser, lambda d: count(d, "#alerts li") == 1 and count(d, "#quarantine li") == 1, what="alert and quarantine")
    assert "tampered" in text_of(browser, "#alerts")
    screenshot(browser, "07_safety")
    open_view(browser, dashboard, f"{ui_runs.other_id}/safety")
    wait_for(browser, lambda d: count(d, "#alerts-empty") == 1 and count(d, "#quarantine-empty") == 1, what="empty states")
    screenshot(browser, "08_safety_empty")
    open_view(browser, dashboard, f"{ui_runs.main_id}/insights")
    wait_for(browser, lambda d: count(d, "#insights li") == 2, what="two insights")
    assert "small steps" in text_of(browser, "#insights")
    screenshot(browser, "09_insights")
    open_view(browser, dashboard, f"{ui_runs.other_id}/insights")
    wait_for(browser, lambda d: count(d, "#insights-empty") == 1, what="no insight yet")


def test_compare_runs_on_one_plot(browser, dashboard, ui_runs):
    open_view(browser, dashboard, "compare")
    wait_for(browser, lambda d: count(d, "#plot-compare .series-step path") == 2, what="two runs on one plot")
    names = browser.execute_script("return Array.from(document.querySelectorAll('#plot-compare .series-step')).map(g => g.dataset.name)")
    assert sorted(names) == ["main", "other"]
    screenshot(browser, "10_compare")
    browser.find_element("id", f"cmp-{ui_runs.other_id}").click()
    wait_for(browser, lambda d: count(d, "#plot-compare .series-step path") == 1, what="one run after unticking")


def test_live_run_updates_the_page(browser, tmp_path):
    """Start a real run in another process, open its dashboard, and watch the numbers grow."""
    run_dir = tmp_path / "live"
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import ui_rundb; from pathlib import Path;"
        "ui_rundb.operator_run(Path(sys.argv[2]), proposals=40)"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(Path(__file__).parent), str(run_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    registry = server = None
    try:
        deadline = time.monotonic() + 600  # only a hang ends here; a loaded machine is just slower
        while not (run_dir / "storage.url").exists():
            assert proc.poll() is None, proc.stderr.read().decode()
            assert time.monotonic() < deadline, "the run did not start"
            time.sleep(0.1)
        registry = RunRegistry([str(run_dir)])
        server = start_in_thread(registry)
        handle = registry.runs()[0]
        open_view(browser, server, f"{handle.key}/overview")
        wait_for(browser, lambda d: text_of(d, "#stat-attempts").isdigit(), what="the attempt counter")
        first = int(text_of(browser, "#stat-attempts"))
        first_dots = count(browser, "#plot-progress circle.pt")
        assert first < 41
        wait_for(browser, lambda d: int(text_of(d, "#stat-attempts")) >= first + 3, timeout=600, what="the counter to grow")
        assert count(browser, "#plot-progress circle.pt") > first_dots or first_dots == 0
        assert "live" in text_of(browser, "#live")
        screenshot(browser, "11_live_run")
        assert proc.wait(timeout=1200) == 0, proc.stderr.read().decode()
        total = handle.storage.count_attempts(handle.key)
        ok = handle.storage.count_attempts(handle.key, AttemptStatus.OK)
        wait_for(browser, lambda d: text_of(d, "#stat-attempts") == str(total), timeout=300, what="the final count")
        wait_for(browser, lambda d: count(d, "#plot-progress circle.pt") == ok, what="every final program drawn")
        wait_for(browser, lambda d: "stopped" in text_of(d, "#live"), what="the run to show as stopped")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if server is not None:
            server.shutdown()
            server.server_close()
        if registry is not None:
            registry.close()
