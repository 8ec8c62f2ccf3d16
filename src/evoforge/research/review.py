"""Review: an ensemble of reviewer calls on the fixed form, a reflection round each, a meta-review.

Each reviewer reads the report's Markdown (numbers and citations included) and fills in the
`forms.REVIEW` form; in each reflection round it sees its own review and may revise it; the
meta-review reads all the final reviews and fills in the same form. Every form is stored
(events ``research_review`` and ``research_meta_review``) with its scores; a reviewer whose
replies never fit the form is stored as a failure and left out.
"""
from __future__ import annotations

import json
from typing import Any

from .asking import Asker
from .forms import REVIEW
from .store import META, REVIEW as REVIEW_EVENT
from .store import ResearchStore

MARKER = "RESEARCH REVIEW FORM"
META_MARKER = "RESEARCH META-REVIEW FORM"

PERSONAS = ("a strict reviewer who checks that every claim is supported by the stored numbers",
            "a reviewer who values novel, simple ideas",
            "a reviewer who cares about soundness of the method and the baseline comparison")


def _review_prompt(report_md: str, persona: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": f"You are {persona}. You reply with only a JSON object."},
            {"role": "user", "content": (
                f"{MARKER}\n\nReview this research report. Judge it only by what it shows.\n\n{report_md}\n\n"
                f"Reply with only this JSON object (scores 1-10, confidence 1-5):\n{REVIEW.describe()}")}]


def review(asker: Asker, store: ResearchStore, idea_id: str, report_md: str, *, reviewers: int,
           reflections: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(the final review of each reviewer that produced one, the meta-review or None)."""
    finals = []
    for k in range(reviewers):
        messages = _review_prompt(report_md, PERSONAS[k % len(PERSONAS)])
        record = asker.form(REVIEW, messages, what=f"review {k + 1}")
        if record is None:
            continue
        store.add(REVIEW_EVENT, {"idea": idea_id, "reviewer": k + 1, "round": 0, "record": record})
        last = 0
        for n in range(1, reflections + 1):
            follow = (f"Reflection round {n}: here is your review. Check it against the report: is each "
                      "weakness real, is each score justified? Reply with the revised review (or the same), only "
                      f"the JSON object:\n{REVIEW.describe()}")
            revised = asker.form(REVIEW, [*messages, {"role": "assistant", "content": json.dumps(record)},
                                          {"role": "user", "content": follow}], what=f"review {k + 1} reflection {n}")
            if revised is None:
                break
            record, last = revised, n
            store.add(REVIEW_EVENT, {"idea": idea_id, "reviewer": k + 1, "round": n, "record": record})
        finals.append({"idea": idea_id, "reviewer": k + 1, "round": last, "record": record})
    if not finals:
        return [], None
    listing = "\n\n".join(f"Reviewer {r['reviewer']}:\n{json.dumps(r['record'], indent=1)}" for r in finals)
    meta = asker.form(REVIEW, [
        {"role": "system", "content": "You are the area chair. You reply with only a JSON object."},
        {"role": "user", "content": (f"{META_MARKER}\n\nThe reviews of a research report:\n\n{listing}\n\nWrite the "
                                     "meta-review: weigh the reviews, settle disagreements, give the final scores. "
                                     f"Reply with only this JSON object:\n{REVIEW.describe()}")}], what="meta-review")
    if meta is None:
        return finals, None
    scores = [r["record"]["overall"] for r in finals]
    meta_row = {"idea": idea_id, "record": meta, "reviewers": len(finals),
                "mean_overall": sum(scores) / len(scores)}
    store.add(META, meta_row)
    return finals, meta_row
