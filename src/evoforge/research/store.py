"""Where the research loop keeps its records: the out folder's run database.

One SQLite file (``OUT/research.db``) holds everything: the experiment runs of every stage (each
an ordinary evoforge run, so ``evoforge ui OUT/research.db`` shows their trees), and one run named
``research`` whose events are the loop's own records (ideas, failures of the model's output,
experiments, outcomes, reports, reviews) and whose attempts are the trusted re-evaluations that
every number of a report cites. Only the storage API is used (runs, attempts, events, state), so
the schema is evoforge's own and any storage URL would do.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..storage import RunInfo, Storage, open_storage, sqlite_url_for

RESEARCH_RUN = "research"
DB_FILE = "research.db"

# event kinds of the research run, one home for the names the loop, the report and the dashboard use
IDEA = "research_idea"              # an idea entered the archive (payload: id, record, source, novelty, status)
IDEA_STATUS = "research_idea_status"  # an idea's status changed (id, status, why)
FAILURE = "research_failure"        # a model reply that was not the form, or a failed call (what, error, reply)
EXPERIMENT = "research_stage"       # one stage of an idea's experiment (idea, stage, run, best, ...)
OUTCOME = "research_outcome"        # an idea's measured result against the baseline
REPORT = "research_report"          # a report was written (idea, files, flags)
FLAG = "research_flag"              # a number the model wrote that storage does not hold
REVIEW = "research_review"          # one reviewer's form (idea, reviewer, round, record)
META = "research_meta_review"       # the meta-review of an idea
KINDS = (IDEA, IDEA_STATUS, FAILURE, EXPERIMENT, OUTCOME, REPORT, FLAG, REVIEW, META)


class ResearchStore:
    """The research run of one out folder (created on first use, reused by later invocations,
    which is what makes the idea archive open-ended)."""

    def __init__(self, out: Path, *, topic: str = "", settings: dict[str, Any] | None = None,
                 url: str | None = None) -> None:
        self.out = out
        self.url = url or sqlite_url_for(out / DB_FILE)
        self.storage: Storage = open_storage(self.url)
        info = self.storage.get_run(RESEARCH_RUN)
        if info is None:
            info = self.storage.create_run(RESEARCH_RUN, {"research": settings or {}}, topic,
                                           meta={"kind": "research", "out": str(out.resolve())})
        self.info: RunInfo = info

    @property
    def run_id(self) -> str:
        return self.info.id

    def add(self, kind: str, payload: dict[str, Any]) -> None:
        self.storage.add_event(self.run_id, kind, payload)

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [e["payload"] for e in self.storage.events(self.run_id, kind)]

    def next_number(self, key: str) -> int:
        """A counter kept in the run's state (idea numbers stay unique across invocations)."""
        n = int(self.storage.get_state(self.run_id, key, 0)) + 1
        self.storage.set_state(self.run_id, key, n)
        return n

    def ideas(self) -> list[dict[str, Any]]:
        """Every idea in the archive with its latest status and outcome, oldest first."""
        ideas = {p["id"]: dict(p) for p in self.records(IDEA)}
        for p in self.records(IDEA_STATUS):
            if p["id"] in ideas:
                ideas[p["id"]].update(status=p["status"], why=p.get("why", ""))
        for p in self.records(OUTCOME):
            if p["idea"] in ideas:
                ideas[p["idea"]]["outcome"] = p
        return list(ideas.values())

    def set_status(self, idea_id: str, status: str, why: str = "") -> None:
        self.add(IDEA_STATUS, {"id": idea_id, "status": status, "why": why})

    def close(self) -> None:
        self.storage.close()
