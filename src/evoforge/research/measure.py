"""Trusted measurements: the best node and the baseline on fresh seeds, and the ablation.

Every evaluation here is stored as an attempt of the research run (mutation ``reeval`` or
``ablation``, metrics naming the idea, the role, the seed and the attempt it re-measures), so
every number a report prints is an attempt id away from the evaluation that produced it. The
seeds are the same for the baseline and every idea (a paired comparison) and are never the
search's seed 0. A baseline already measured on a seed in an earlier invocation is reused.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from ..program import Attempt, AttemptStatus
from ..sandbox import evaluate_code
from .store import ResearchStore
from .topic import Topic

FRESH_SEED_BASE = 500_001
STATUS = {"ok": AttemptStatus.OK, "invalid": AttemptStatus.INVALID, "error": AttemptStatus.ERROR,
          "timeout": AttemptStatus.TIMEOUT}


def fresh_seeds(n: int) -> list[int]:
    return [FRESH_SEED_BASE + k for k in range(n)]


@dataclass
class Measured:
    """Scores of one program on the fresh seeds; `ids[i]` is the attempt that measured `scores[i]`."""

    role: str
    seeds: list[int]
    scores: list[float | None]
    ids: list[str]
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> list[float]:
        return [s for s in self.scores if s is not None]

    @property
    def mean(self) -> float | None:
        return sum(self.ok) / len(self.ok) if self.ok else None

    @property
    def std(self) -> float | None:
        xs = self.ok
        if len(xs) < 2:
            return None
        m = sum(xs) / len(xs)
        return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))

    def to_dict(self) -> dict[str, Any]:
        return {"role": self.role, "seeds": self.seeds, "scores": self.scores, "ids": self.ids,
                "mean": self.mean, "std": self.std, "failures": self.failures}


def evaluate_stored(topic: Topic, store: ResearchStore, code: str, *, seed: int, metrics: dict[str, Any],
                    mutation: str, parent_id: str | None) -> Attempt:
    """One sandboxed evaluation of `code` on `seed`, stored as an attempt of the research run."""
    cfg = topic.template.config.evaluator
    ev = evaluate_code(topic.template.path, code, program_filename=topic.template.config.program,
                       timeout=cfg.timeout, isolation=topic.settings.isolation, stage_args={"seed": seed},
                       cpu_budget_s=cfg.cpu_budget_s)
    a = Attempt(run_id=store.run_id, code=code, status=STATUS.get(ev.status, AttemptStatus.ERROR),
                parent_id=parent_id, mutation=mutation, score=ev.score,
                metrics={**(ev.result.metrics if ev.result else {}), **metrics, "seed": seed},
                feedback=ev.result.feedback if ev.result else "", reason=ev.reason, stdout=ev.stdout[-4000:],
                stderr=ev.stderr[-4000:], eval_seconds=ev.seconds,
                proposal_index=store.storage.allocate_index(store.run_id))
    store.storage.save_attempt(a)
    return a


def measure(topic: Topic, store: ResearchStore, code: str, *, role: str, idea: str | None,
            source_id: str | None) -> Measured:
    """`code` on every fresh seed; the baseline reuses its earlier measurements."""
    seeds = fresh_seeds(topic.settings.seeds)
    known: dict[int, Attempt] = {}
    if role == "baseline":
        for a in store.storage.attempts(store.run_id):
            if a.mutation == "reeval" and a.metrics.get("role") == "baseline" and a.code == code:
                known.setdefault(int(a.metrics["seed"]), a)
    out = Measured(role, seeds, [], [])
    for seed in seeds:
        a = known.get(seed) or evaluate_stored(topic, store, code, seed=seed, mutation="reeval", parent_id=source_id,
                                               metrics={"role": role, "idea": idea, "source_attempt": source_id})
        out.scores.append(a.score if a.status is AttemptStatus.OK else None)
        out.ids.append(a.id)
        if a.status is not AttemptStatus.OK:
            out.failures.append(f"seed {seed}: {a.status.value}: {a.reason[:200]}")
    return out


def paired(idea: Measured, base: Measured, maximize: bool) -> dict[str, Any]:
    """The paired difference over the seeds both measured, and a plain verdict: "better" or
    "worse" when the mean difference exceeds two standard errors, else "no clear difference"."""
    diffs = [a - b for a, b in zip(idea.scores, base.scores) if a is not None and b is not None]
    if not diffs:
        return {"delta": None, "delta_se": None, "pairs": 0, "verdict": "not measured (no seed scored both)"}
    mean = sum(diffs) / len(diffs)
    se = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs)) if len(diffs) > 1 else None
    good = mean > 0 if maximize else mean < 0
    if mean == 0 or se is None or abs(mean) <= 2 * se:
        verdict = "no clear difference"
    else:
        verdict = "better" if good else "worse"
    return {"delta": mean, "delta_se": se, "pairs": len(diffs), "verdict": verdict}


def hunks(base: str, best: str) -> list[tuple[int, int, int, int]]:
    """Line ranges (base i1:i2 → best j1:j2) where the best program differs from the baseline."""
    a, b = base.splitlines(keepends=True), best.splitlines(keepends=True)
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
            if tag != "equal"]


def ablate(topic: Topic, store: ResearchStore, best: str, *, idea: str, source_id: str | None) -> list[dict[str, Any]]:
    """Revert each changed hunk of the best program to the baseline, one at a time, and score it on
    the first fresh seed (the one the best and the baseline were also measured on)."""
    base = topic.baseline
    a, b = base.splitlines(keepends=True), best.splitlines(keepends=True)
    seed = fresh_seeds(1)[0]
    rows = []
    for k, (i1, i2, j1, j2) in enumerate(hunks(base, best)[:topic.settings.ablate_max]):
        code = "".join(b[:j1] + a[i1:i2] + b[j2:])
        removed = "".join(b[j1:j2]).strip() or "(nothing)"
        at = evaluate_stored(topic, store, code, seed=seed, mutation="ablation", parent_id=source_id,
                             metrics={"role": "ablation", "idea": idea, "hunk": k, "source_attempt": source_id})
        rows.append({"hunk": k, "lines": f"{j1 + 1}-{j2}", "reverted": removed[:400], "id": at.id, "seed": seed,
                     "score": at.score if at.status is AttemptStatus.OK else None, "status": at.status.value})
    return rows
