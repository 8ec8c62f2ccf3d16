"""The research records as the JSON a dashboard view needs, read from any storage URL.

Why here and not in `evoforge.ui`: the dashboard's routes are another module's; these functions
are what its ``/api/runs/KEY/research...`` routes (`evoforge.ui.research`) return (ideas with status
and outcome, each idea's stage runs, its report and its reviews), usable by the ui, by
``evoforge report`` or a notebook.
"""
from __future__ import annotations

from typing import Any

from ..storage import Storage, open_storage
from . import store as rs


def _research_run(storage: Storage) -> Any:
    info = storage.get_run(rs.RESEARCH_RUN)
    if info is None:
        raise LookupError(f"{storage.url} holds no research run (run evoforge research TOPIC --out DIR first)")
    return info


def overview(storage: Storage) -> dict[str, Any]:
    """Every idea (id, title, source, status, verdict, means, meta-review score) and the failures count."""
    info = _research_run(storage)
    events = storage.events(info.id)
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_kind.setdefault(e["kind"], []).append(e["payload"])
    ideas: dict[str, dict[str, Any]] = {}
    for p in by_kind.get(rs.IDEA, []):
        ideas[p["id"]] = {"id": p["id"], "title": p["record"]["title"], "source": p["source"], "status": p["status"],
                          "record": p["record"], "novelty_check": p.get("novelty_check")}
    for p in by_kind.get(rs.IDEA_STATUS, []):
        if p["id"] in ideas:
            ideas[p["id"]]["status"] = p["status"]
    for p in by_kind.get(rs.OUTCOME, []):
        if p["idea"] in ideas:
            ideas[p["idea"]].update(verdict=p["verdict"], idea_mean=p["idea_mean"], baseline_mean=p["baseline_mean"],
                                    best_id=p["best_id"])
    for p in by_kind.get(rs.META, []):
        if p["idea"] in ideas:
            ideas[p["idea"]]["meta_overall"] = p["record"]["overall"]
    return {"run_id": info.id, "ideas": list(ideas.values()), "failures": len(by_kind.get(rs.FAILURE, [])),
            "flags": len(by_kind.get(rs.FLAG, []))}


def idea_detail(storage: Storage, idea_id: str) -> dict[str, Any]:
    """One idea: its stage runs (with run ids, for the genealogy view), latest report, reviews, flags."""
    info = _research_run(storage)

    def mine(kind: str, key: str = "idea") -> list[dict[str, Any]]:
        return [e["payload"] for e in storage.events(info.id, kind) if e["payload"].get(key) == idea_id]

    ideas = mine(rs.IDEA, "id")
    if not ideas:
        raise LookupError(f"no idea {idea_id!r} in the research run")
    reports = mine(rs.REPORT)
    return {"idea": ideas[0], "stages": mine(rs.EXPERIMENT), "outcome": (mine(rs.OUTCOME) or [None])[-1],
            "report": reports[-1] if reports else None, "reviews": mine(rs.REVIEW),
            "meta_review": (mine(rs.META) or [None])[-1], "flags": mine(rs.FLAG)}


def read(url: str, idea_id: str | None = None) -> dict[str, Any]:
    """`overview` or `idea_detail` of the research run at a storage URL, opened read-only."""
    storage = open_storage(url, read_only=True, create=False)
    try:
        return overview(storage) if idea_id is None else idea_detail(storage, idea_id)
    finally:
        storage.close()
