"""The dashboard API for many-objective runs (the front) and multi-file programs (files and
per-file diffs), over real HTTP on real SQLite storages; and the router's endpoint table."""
from __future__ import annotations

import re
from importlib import resources

import pytest
import ui_multi
from ui_helpers import get

from evoforge.bundle import file_diff
from evoforge.engine.objectives import stored_front
from evoforge.program import AttemptStatus
from evoforge.storage import open_storage
from evoforge.ui import server as ui_server


def _keys(server) -> dict[str, str]:
    return {r["task"]: r["key"] for r in get(server, "/api/runs")[2]["runs"]}


def test_the_front_of_a_three_objective_run_is_the_engines_front(multi_dashboard, multi_runs):
    status, _, front = get(multi_dashboard, f"/api/runs/{multi_runs.mo_id}/front")
    assert status == 200
    assert [(o["name"], o["direction"]) for o in front["objectives"]] == [
        ("quality", "maximize"), ("cost", "minimize"), ("latency", "minimize")]
    store = open_storage(str(multi_runs.mo / "run.db"), read_only=True, create=False)
    try:
        programs = store.attempts(multi_runs.mo_id, status=AttemptStatus.OK, with_code=False)
        spec, summary = stored_front(store, multi_runs.mo_id)   # what the CLI summary and the report print
    finally:
        store.close()
    assert len(front["points"]) == len(programs) >= 4
    assert {p["id"] for p in front["points"] if p["front"]} == {a.id for a, _ in summary.front}
    assert 0 < sum(p["front"] for p in front["points"]) <= len(programs)
    assert front["hypervolume"] == pytest.approx(summary.hypervolume) and front["hypervolume"] > 0
    assert [(h["index"], h["hypervolume"]) for h in front["history"]] == [(i, pytest.approx(v)) for i, v in summary.history]
    by_id = {a.id: a for a in programs}
    for p in front["points"]:
        assert p["values"] == pytest.approx(by_id[p["id"]].metrics["objectives"])


def test_a_single_objective_run_has_no_front(multi_dashboard, multi_runs):
    front = get(multi_dashboard, f"/api/runs/{multi_runs.bundles.run_id}/front")[2]
    assert front == {"objectives": [], "points": [], "hypervolume": None, "history": []}


def test_a_folder_program_comes_with_its_files_their_status_and_diffs(multi_dashboard, multi_runs):
    b = multi_runs.bundles
    status, _, a = get(multi_dashboard, f"/api/runs/{b.run_id}/attempts/{b.child.id}")
    assert status == 200
    files = {f["path"]: f for f in a["files"]}
    assert list(files) == sorted(set(ui_multi.PARENT_FILES) | set(ui_multi.CHILD_FILES))
    assert {p: f["status"] for p, f in files.items()} == {
        "README.md": "removed", "solver/__init__.py": "unchanged", "solver/extra/tuning.py": "added",
        "solver/heuristic.py": "modified", "solver/structure.py": "unchanged", ui_multi.HOSTILE_PATH: "unchanged"}
    assert {p for p, f in files.items() if f["changed"]} == {"README.md", "solver/extra/tuning.py", "solver/heuristic.py"}
    for path, f in files.items():
        assert f["text"] == ui_multi.CHILD_FILES.get(path)   # None for the removed file
    heur = files["solver/heuristic.py"]["diff"]
    assert heur.startswith("--- a/solver/heuristic.py\n+++ b/solver/heuristic.py\n")
    assert "-    return x * 2\n" in heur and "+    return x * 3 + 1\n" in heur
    assert files["solver/extra/tuning.py"]["diff"].startswith("--- /dev/null\n+++ b/solver/extra/tuning.py\n")
    assert files["README.md"]["diff"].startswith("--- a/README.md\n+++ /dev/null\n")
    assert files["solver/structure.py"]["diff"] == "" and a["files_error"] is None
    # the whole diff is the bundle's own per-file diff, and is the concatenation of the files' diffs
    assert a["diff"] == file_diff(b.parent.code, b.child.code)
    assert a["diff"] == "".join(f["diff"] for f in files.values())
    assert a["code"] == b.child.code


def test_the_initial_folder_program_has_no_parent_to_compare_with(multi_dashboard, multi_runs):
    b = multi_runs.bundles
    a = get(multi_dashboard, f"/api/runs/{b.run_id}/attempts/{b.parent.id}")[2]
    assert {f["status"] for f in a["files"]} == {"initial"}
    assert all(f["diff"] == "" and not f["changed"] for f in a["files"])
    assert [f["path"] for f in a["files"]] == sorted(ui_multi.PARENT_FILES)


def test_a_damaged_bundle_says_why_and_keeps_the_raw_code(multi_dashboard, multi_runs):
    b = multi_runs.bundles
    a = get(multi_dashboard, f"/api/runs/{b.run_id}/attempts/{b.damaged.id}")[2]
    assert a["files"] is None and "outside the folder" in a["files_error"]
    assert a["code"] == b.damaged.code and a["diff"] == ""


def test_a_single_file_program_has_no_files_list(multi_dashboard, multi_runs):
    b = multi_runs.bundles
    a = get(multi_dashboard, f"/api/runs/{b.run_id}/attempts/{b.single.id}")[2]
    assert a["files"] is None and a["files_error"] is None and a["code"] == "X = 1\n"


def test_the_router_is_one_table_of_run_endpoints(multi_dashboard, multi_runs):
    assert {name for name, _ in ui_server.RUN_ENDPOINTS} >= {"poll", "attempts", "usage", "events", "front", "failures"}
    with pytest.raises(ValueError, match="already registered"):
        ui_server.run_endpoint("front")(lambda api, handle, q, args: None)
    key = ("test-echo", 1)
    assert key not in ui_server.RUN_ENDPOINTS
    ui_server.run_endpoint(*key)(lambda api, handle, q, args: {"run": handle.key, "arg": args[0], "q": q})
    try:
        status, _, body = get(multi_dashboard, f"/api/runs/{multi_runs.mo_id}/test-echo/a%20b?x=1")
        assert status == 200 and body == {"run": multi_runs.mo_id, "arg": "a b", "q": {"x": "1"}}
        assert get(multi_dashboard, f"/api/runs/{multi_runs.mo_id}/test-echo")[0] == 404      # wrong arity
        status, _, body = get(multi_dashboard, "/api/runs/nope/test-echo/a")
        assert status == 404 and "no run 'nope'" in body["error"]
    finally:
        del ui_server.RUN_ENDPOINTS[key]
    status, _, body = get(multi_dashboard, f"/api/runs/{multi_runs.mo_id}/nothing-here")
    assert status == 404 and "no API endpoint" in body["error"]


def test_no_asset_writes_html_from_strings():
    """Untrusted text (code, paths, model replies) must never reach an HTML parser: no asset may
    use innerHTML, outerHTML, insertAdjacentHTML, document.write or eval."""
    assets = resources.files("evoforge.ui").joinpath("assets")
    scripts = [f for f in assets.iterdir() if f.name.endswith((".js", ".html"))]
    assert {"views_front.js", "views_files.js", "app.js"} <= {f.name for f in scripts}
    for f in scripts:
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function", text), f.name
        if f.name.endswith(".js"):
            assert f"/assets/{f.name}" in assets.joinpath("index.html").read_text(encoding="utf-8"), f"{f.name} is not loaded"
