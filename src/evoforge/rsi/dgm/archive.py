"""The open-ended archive of agents (Darwin Gödel Machine).

Every agent that works stays in the archive for good, whatever its score: an agent that is
mediocre today may be the stepping stone to a better one later, which is the point of open-ended
search. Parents are drawn with weight ``sigmoid(10 · (score − 0.5)) / (1 + children)`` — good
agents are preferred, agents that already had many children less so, so that exploration does
not collapse onto one lineage. Agents that failed (did not compile, crashed, solved nothing)
are recorded with their reason but never chosen as parents.

On disk: ``OUT/agents/ID/`` (the agent's files) and ``OUT/archive.json`` (the records).
"""
from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .agent_process import read_tree, write_tree


def parent_weight(score: float, children: int) -> float:
    """DGM's parent weight: sigmoid(10·(score − 0.5)) / (1 + children)."""
    return 1.0 / (1.0 + math.exp(-10.0 * (score - 0.5))) / (1.0 + children)


@dataclass
class AgentRecord:
    """One agent and how it did."""

    id: str
    parent_id: str | None
    generation: int
    status: str                  # "ok" (works, in the archive) or "failed"
    score: float = 0.0           # solved / evaluated
    solved: list[str] = field(default_factory=list)
    evaluated: list[str] = field(default_factory=list)
    stage: int = 0               # 1 = stage-1 subset only, 2 = full benchmark
    children: int = 0
    reason: str = ""
    llm_calls: int = 0
    created_at: float = field(default_factory=time.time)

    @property
    def works(self) -> bool:
        return self.status == "ok"


class Archive:
    """Agents by id; only working agents are eligible parents."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.agents: dict[str, AgentRecord] = {}

    # -- contents ---------------------------------------------------------------------------
    def add(self, record: AgentRecord, files: dict[str, str]) -> None:
        write_tree(self.root / "agents" / record.id, files)
        self.agents[record.id] = record
        if record.parent_id in self.agents:
            self.agents[record.parent_id].children += 1
        self.save()

    def files(self, agent_id: str) -> dict[str, str]:
        return read_tree(self.root / "agents" / agent_id)

    def working(self) -> list[AgentRecord]:
        return [a for a in self.agents.values() if a.works]

    def best(self) -> AgentRecord | None:
        working = self.working()
        return max(working, key=lambda a: (a.score, -a.generation)) if working else None

    # -- selection ----------------------------------------------------------------------------
    def weights(self) -> dict[str, float]:
        """Parent weights of the working agents (not normalised)."""
        return {a.id: parent_weight(a.score, a.children) for a in self.working()}

    def probabilities(self) -> dict[str, float]:
        w = self.weights()
        total = sum(w.values())
        return {k: v / total for k, v in w.items()} if total > 0 else {}

    def select_parent(self, rng: random.Random) -> AgentRecord:
        weights = self.weights()
        if not weights:
            raise RuntimeError("the archive holds no working agent")
        ids = sorted(weights)
        pick = rng.random() * sum(weights[i] for i in ids)
        for agent_id in ids:
            pick -= weights[agent_id]
            if pick <= 0:
                return self.agents[agent_id]
        return self.agents[ids[-1]]

    # -- persistence -----------------------------------------------------------------------------
    def save(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        data = {"agents": [asdict(a) for a in self.agents.values()], "weights": self.weights()}
        tmp = self.root / "archive.json.tmp"
        tmp.write_text(json.dumps(data, indent=2), encoding="utf-8")
        os.replace(tmp, self.root / "archive.json")

    @classmethod
    def load(cls, root: str | Path) -> Archive:
        archive = cls(root)
        path = archive.root / "archive.json"
        if path.is_file():
            for d in json.loads(path.read_text(encoding="utf-8"))["agents"]:
                archive.agents[d["id"]] = AgentRecord(**d)
        return archive

    def summary(self) -> dict[str, Any]:
        best = self.best()
        return {"agents": len(self.agents), "archive_size": len(self.working()),
                "failed": sum(1 for a in self.agents.values() if not a.works),
                "best_id": best.id if best else None, "best_score": best.score if best else 0.0}
