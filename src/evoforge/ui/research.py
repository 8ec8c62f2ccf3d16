"""The dashboard's research endpoints: what ``evoforge research`` stored, for the Research view.

The data is `evoforge.research.dashboard`'s (one home for reading the research records); this
module only routes it, links each stage to its run in the same storage, and serves an idea's
``report.html``. That page is the one file the dashboard serves from disk, so it is found, never
named by the request: ``OUT/reports/IDEA/report.html`` for an idea id the database holds, and it
must resolve inside ``OUT/reports`` (a symlink out of it is refused). It is sent with a CSP that
allows its inline styles and data: images but no script, and sandboxes it (an opaque origin).
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from ..research import dashboard as research_data
from ..research.store import RESEARCH_RUN
from ..storage.sqlite import path_from_url
from .server import ApiError, Dashboard, RawFile, run_endpoint
from .sources import RunHandle

#: a report page may style itself and show its inline plots, nothing else
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; base-uri 'none'; "
              "form-action 'none'")
IDEA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
REPORTS = "reports"


def is_research(handle: RunHandle) -> bool:
    """The loop's own run (its name, and the kind the loop records in its meta)."""
    return handle.info.name == RESEARCH_RUN and handle.info.meta.get("kind") == "research"


def _research(handle: RunHandle) -> RunHandle:
    if not is_research(handle):
        raise ApiError(404, f"run {handle.info.name!r} is not a research run (open an evoforge research --out folder)")
    return handle


def out_folder(handle: RunHandle) -> Path | None:
    """The out folder: the SQLite file's folder (still right when the folder was moved), else the
    folder the loop recorded (another storage URL)."""
    if handle.storage.url.startswith("sqlite:"):
        return path_from_url(handle.storage.url).parent
    recorded = handle.info.meta.get("out")
    return Path(recorded) if isinstance(recorded, str) and recorded else None


def report_file(handle: RunHandle, idea_id: str) -> Path | None:
    """``OUT/reports/IDEA/report.html`` when it exists and lies inside ``OUT/reports``; else None."""
    out = out_folder(handle)
    if out is None or not IDEA_ID.match(idea_id):
        return None
    reports = (out / REPORTS).resolve()
    page = (reports / idea_id / "report.html").resolve()
    return page if page.is_relative_to(reports) and page.is_file() else None


def _stage_links(handle: RunHandle, stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each stage with ``run_key``: the dashboard key of its run when this storage holds it."""
    out = []
    for stage in stages:
        info = handle.storage.get_run(stage.get("run_id") or stage.get("run_name") or "") \
            if stage.get("status") != "skipped" else None
        out.append({**stage, "run_key": info.id if info is not None else None})
    return out


def _lookup(fn: Any, *args: Any) -> dict[str, Any]:
    try:
        return fn(*args)
    except LookupError as exc:
        raise ApiError(404, str(exc).strip("'\"")) from None


@run_endpoint("research")
def _overview(api: Dashboard, handle: RunHandle, q: dict[str, str], _: list[str]) -> Any:
    return _lookup(research_data.overview, _research(handle).storage)


@run_endpoint("research", 1)
def _idea(api: Dashboard, handle: RunHandle, q: dict[str, str], args: list[str]) -> Any:
    storage = _research(handle).storage
    detail = _lookup(research_data.idea_detail, storage, args[0])
    status = next((i["status"] for i in research_data.overview(storage)["ideas"] if i["id"] == args[0]), None)
    report = detail["report"]
    return {**detail, "status": status, "stages": _stage_links(handle, detail["stages"]),
            "report_page": (f"/api/runs/{handle.key}/research_report/{args[0]}"
                            if report is not None and report_file(handle, args[0]) else None)}


@run_endpoint("research_report", 1)
def _report(api: Dashboard, handle: RunHandle, q: dict[str, str], args: list[str]) -> Any:
    idea_id = args[0]
    storage = _research(handle).storage
    known = {i["id"] for i in research_data.overview(storage)["ideas"]}
    if idea_id not in known:
        raise ApiError(404, f"no idea {idea_id!r} in the research run")
    page = report_file(handle, idea_id)
    if page is None:
        raise ApiError(404, f"idea {idea_id} has no report.html under {REPORTS}/ of the research out folder")
    return RawFile(page.read_bytes(), "text/html; charset=utf-8", REPORT_CSP)
