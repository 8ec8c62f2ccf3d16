"""The Front view and the program page's file tree in headless Chromium, on real storages:
a point of the front opens its program; a file of a folder program shows its text and its diff;
names and texts that try to inject markup stay text."""
from __future__ import annotations

import pytest
import ui_multi
from selenium.webdriver.support.ui import Select
from ui_helpers import get, open_view, screenshot, wait_for

pytestmark = pytest.mark.slow


def count(driver, css: str) -> int:
    return int(driver.execute_script("return document.querySelectorAll(arguments[0]).length", css))


def text_of(driver, css: str) -> str:
    return str(driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.textContent : null", css))


def labels(driver, css: str) -> list[str]:
    return list(driver.execute_script("return Array.from(document.querySelectorAll(arguments[0])).map(e => e.textContent)", css))


def nav_hidden(driver, view: str) -> bool:
    return bool(driver.execute_script("return document.querySelector(`#nav a[data-view='${arguments[0]}']`).hidden", view))


def test_the_front_view_draws_every_program_and_a_point_opens_its_program(browser, multi_dashboard, multi_runs):
    front = get(multi_dashboard, f"/api/runs/{multi_runs.mo_id}/front")[2]
    on_front = [p for p in front["points"] if p["front"]]
    open_view(browser, multi_dashboard, f"{multi_runs.mo_id}/front")
    wait_for(browser, lambda d: count(d, "#plot-front circle.pt") == len(front["points"]), what="one dot per program")
    assert count(browser, "#plot-front .on-front circle.pt") == len(on_front)
    assert count(browser, "#plot-front .dominated circle.pt") == len(front["points"]) - len(on_front) > 0
    assert not nav_hidden(browser, "front")
    # axes named by objective and direction; three objectives, so the two shown can be chosen
    assert {"quality (maximize ↑)", "cost (minimize ↓)"} <= set(labels(browser, "#plot-front text.label"))
    Select(browser.find_element("id", "front-y")).select_by_value("latency")
    wait_for(browser, lambda d: "latency (minimize ↓)" in labels(d, "#plot-front text.label"), what="the y axis to become latency")
    assert count(browser, "#plot-front circle.pt") == len(front["points"])
    assert count(browser, "#plot-hypervolume .series-step path") == 1
    assert "now " in text_of(browser, "#plot-hypervolume .plot-title")
    assert count(browser, "table.front-table tbody tr") == len(on_front)
    screenshot(browser, "12_front")
    # a point of the front that nothing covers, clicked where a person would click
    target = browser.execute_script("""
        for (const c of document.querySelectorAll('#plot-front .on-front circle.pt')) {
          const r = c.getBoundingClientRect();
          if (document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === c) return c.dataset.id;
        }
        return null;""")
    assert target, "every front point is covered by another mark"
    browser.find_element("css selector", f'#plot-front .on-front circle.pt[data-id="{target}"]').click()
    wait_for(browser, lambda d: target in text_of(d, "#attempt-title"), what="the point's program page")
    assert f"/attempt/{target}" in browser.current_url
    assert "def knobs" in text_of(browser, "#attempt-code")


def test_a_single_objective_run_offers_no_front(browser, multi_dashboard, multi_runs):
    open_view(browser, multi_dashboard, f"{multi_runs.bundles.run_id}/overview")
    wait_for(browser, lambda d: nav_hidden(d, "front"), what="the Front link to be hidden")
    open_view(browser, multi_dashboard, f"{multi_runs.bundles.run_id}/front")
    wait_for(browser, lambda d: "single objective" in text_of(d, "#view .empty-state"), what="the single-objective note")


def test_a_folder_program_shows_a_file_tree_and_each_files_diff(browser, multi_dashboard, multi_runs):
    b = multi_runs.bundles
    open_view(browser, multi_dashboard, f"{b.run_id}/attempt/{b.child.id}")
    wait_for(browser, lambda d: count(d, "#file-tree button.file-entry") == 6, what="one entry per file")
    assert labels(browser, "#file-tree .folder-name") == ["solver/", "extra/"]
    # the first modified file is open at first
    assert text_of(browser, "#file-title").startswith("solver/heuristic.py")
    assert text_of(browser, "#file-code") == ui_multi.CHILD_FILES["solver/heuristic.py"]
    diff = text_of(browser, "#file-diff")
    assert "-    return x * 2" in diff and "+    return x * 3 + 1" in diff and "structure" not in diff
    unchanged = browser.find_element("css selector", '#file-tree button.file-entry[data-path="solver/structure.py"]')
    assert "st-unchanged" in unchanged.get_attribute("class") and "unchanged" in unchanged.text
    screenshot(browser, "13_program_files")
    unchanged.click()
    wait_for(browser, lambda d: text_of(d, "#file-title").startswith("solver/structure.py"), what="the unchanged file")
    assert "unchanged" in text_of(browser, "#file-diff") and text_of(browser, "#file-code") == ui_multi.CHILD_FILES["solver/structure.py"]
    browser.find_element("css selector", '#file-tree button.file-entry[data-path="solver/extra/tuning.py"]').click()
    wait_for(browser, lambda d: "+WEIGHT = 0.5" in text_of(d, "#file-diff"), what="the added file's diff")
    assert "/dev/null" in text_of(browser, "#file-diff")
    browser.find_element("css selector", '#file-tree button.file-entry[data-path="README.md"]').click()
    wait_for(browser, lambda d: "removed" in text_of(d, "#file-code"), what="the removed file")
    assert "-A solver package." in text_of(browser, "#file-diff")
    # the whole per-file diff is one fold away
    assert "+++ b/solver/heuristic.py" in text_of(browser, "#attempt-diff")


def test_file_names_and_texts_are_shown_as_text_never_as_markup(browser, multi_dashboard, multi_runs):
    b = multi_runs.bundles
    open_view(browser, multi_dashboard, f"{b.run_id}/attempt/{b.child.id}")
    wait_for(browser, lambda d: count(d, "#file-tree button.file-entry") == 6, what="the file tree")
    entry = browser.execute_script(
        "return Array.from(document.querySelectorAll('#file-tree button.file-entry')).find(e => e.dataset.path === arguments[0])",
        ui_multi.HOSTILE_PATH)
    assert entry is not None
    entry.click()
    wait_for(browser, lambda d: text_of(d, "#file-title").startswith(ui_multi.HOSTILE_PATH), what="the hostile file")
    assert text_of(browser, "#file-code") == ui_multi.HOSTILE_TEXT
    assert count(browser, "#view img, #view script, #view b") == 0
    assert browser.execute_script("return window.__pwned === undefined")


def test_a_damaged_bundle_and_a_single_file_program_show_their_code(browser, multi_dashboard, multi_runs):
    b = multi_runs.bundles
    open_view(browser, multi_dashboard, f"{b.run_id}/attempt/{b.damaged.id}")
    wait_for(browser, lambda d: "outside the folder" in text_of(d, "#files-error"), what="why the files cannot be shown")
    assert text_of(browser, "#attempt-code") == b.damaged.code and count(browser, "#file-tree") == 0
    open_view(browser, multi_dashboard, f"{b.run_id}/attempt/{b.single.id}")
    wait_for(browser, lambda d: text_of(d, "#attempt-code") == "X = 1\n", what="the single file's code")
    assert count(browser, "#file-tree") == 0 and count(browser, "#files-error") == 0
