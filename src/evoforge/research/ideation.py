"""Ideas: the model proposes structured records, reflects on them, and the archive keeps them.

Each new idea is asked for with the topic, the baseline program and the archive (every earlier
idea with its measured outcome, so later ideation learns from what worked and what did not),
then revised in ``reflections`` rounds that show the model its own record and the closest idea
in the archive or corpus. An idea whose MinHash similarity to the archive or corpus is at or
above ``novelty_threshold`` is stored as ``not_novel`` and never run.
"""
from __future__ import annotations

import json
from typing import Any

from .asking import Asker
from .forms import IDEA
from .novelty import NoveltyIndex
from .store import IDEA as IDEA_EVENT
from .store import ResearchStore
from .topic import Topic

MARKER = "RESEARCH IDEA FORM"   # words every ideation prompt carries (scripted test models key on them)


def archive_lines(ideas: list[dict[str, Any]]) -> str:
    """The archive as the prompt shows it: each idea with its outcome (measured, not claimed)."""
    if not ideas:
        return "(the archive is empty: this is the first idea)"
    lines = []
    for i in ideas:
        r, out = i["record"], i.get("outcome")
        if out and out.get("delta") is not None:
            result = f"measured: {out['verdict']} (mean {out['idea_mean']:.4g} vs baseline {out['baseline_mean']:.4g})"
        else:
            result = f"status {i.get('status', 'new')}" + (f": {i['why']}" if i.get("why") else "")
        lines.append(f"- {i['id']}: {r['title']} — {r['planned_change']} [{result}]")
    return "\n".join(lines)


def _base_messages(topic: Topic, ideas: list[dict[str, Any]]) -> list[dict[str, str]]:
    direction = "higher" if topic.template.maximize else "lower"
    return [
        {"role": "system", "content": "You are a careful research scientist. You propose one concrete, testable "
                                      "idea at a time and reply with only a JSON object."},
        {"role": "user", "content": (
            f"{MARKER}\n\nTopic:\n{topic.description}\n\nThe experiment is this program; its score is "
            f"{direction}-is-better and only the code between EVOLVE-BLOCK markers may change:\n"
            f"```\n{topic.baseline}\n```\n\nIdeas already studied (do not repeat them; learn from their "
            f"outcomes):\n{archive_lines(ideas)}\n\nPropose ONE new idea. Reply with only this JSON "
            f"object:\n{IDEA.describe()}")},
    ]


def propose(asker: Asker, topic: Topic, store: ResearchStore, index: NoveltyIndex) -> dict[str, Any] | None:
    """One new idea (reflected on, novelty-checked, stored), or None when the model gave no valid
    record within its retries (the failures are stored)."""
    archive = store.ideas()
    messages = _base_messages(topic, archive)
    record = asker.form(IDEA, messages, what="idea")
    if record is None:
        return None
    rounds = [record]
    for n in range(topic.settings.reflections):
        closest = index.closest(record)
        follow = (f"Reflection round {n + 1} of {topic.settings.reflections}. Your idea:\n"
                  f"{json.dumps(record, indent=1)}\nThe closest earlier idea or prior work has MinHash similarity "
                  f"{closest.similarity:.2f} ({closest.source or 'none'}); at {topic.settings.novelty_threshold:.2f} "
                  "or more it is not novel and will not be run. Is the idea sound, feasible within the "
                  "template, and clear enough to implement? Reply with the improved idea (or the same one), "
                  f"only the JSON object:\n{IDEA.describe()}")
        revised = asker.form(IDEA, [*messages, {"role": "assistant", "content": json.dumps(record)},
                                    {"role": "user", "content": follow}], what=f"idea reflection {n + 1}")
        if revised is None:
            break
        record = revised
        rounds.append(record)
    return admit(store, index, record, source="model", threshold=topic.settings.novelty_threshold,
                 reflections=rounds[:-1])


def admit(store: ResearchStore, index: NoveltyIndex, record: dict[str, Any], *, source: str, threshold: float,
          reflections: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Store an idea in the archive, with its novelty and status ("new" or "not_novel")."""
    closest = index.closest(record)
    status = "not_novel" if closest.similarity >= threshold else "new"
    idea = {"id": f"idea-{store.next_number('ideas')}", "record": record, "source": source,
            "novelty_check": closest.to_dict(), "status": status, "reflections": reflections or []}
    store.add(IDEA_EVENT, idea)
    index.add(idea["id"], record)
    if status == "not_novel":
        store.set_status(idea["id"], status, f"MinHash similarity {closest.similarity:.2f} to {closest.source}")
    return {**idea, "why": "" if status == "new" else f"similar to {closest.source}"}


def seed_ideas(topic: Topic, store: ResearchStore, index: NoveltyIndex) -> list[dict[str, Any]]:
    """The topic's seed ideas not yet in the archive, admitted like any idea."""
    known = {json.dumps(i["record"], sort_keys=True) for i in store.ideas()}
    out = []
    for record in topic.seed_ideas:
        if json.dumps(record, sort_keys=True) not in known:
            out.append(admit(store, index, record, source="seed", threshold=topic.settings.novelty_threshold))
    return out
