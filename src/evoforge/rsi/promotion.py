"""Verified promotion: a new strategy replaces the incumbent only on held-out evidence.

The candidate (the best strategy of the outer run on the *training* tasks) and the incumbent are
both run on the *held-out* tasks with the same seeds; the paired improvements go through
`stats.paired_permutation_test`. Only an accepted test promotes. Every decision, accepted or
not, is written with its numbers to ``OUT/promotions.json`` and as a ``promotion`` event on the
outer run (visible in the dashboard and ``evoforge export``).

With ``approval="human"`` an accepted candidate becomes *pending*: nothing is installed until a
person runs ``evoforge audit OUT --approve ID`` (or ``--reject ID``). Installing means writing
``OUT/incumbent_strategy.py`` and ``OUT/incumbent_sandboxed.py``, a strategy file that runs the
incumbent inside the sandbox for ordinary runs (``strategy: OUT/incumbent_sandboxed.py``).
"""
from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import UserError
from .sandboxed import file_proxy_source
from .stats import PairedTest, paired_permutation_test

PROMOTIONS_FILE = "promotions.json"
INCUMBENT_FILE = "incumbent_strategy.py"
SANDBOXED_FILE = "incumbent_sandboxed.py"
CONFIG_FILE = "incumbent_config.txt"
REPORT_FILE = "self_improve.json"
STATUSES = ("promoted", "rejected", "pending", "approved", "rejected_by_human")


@dataclass
class Promotion:
    """One promotion decision and the numbers it rests on."""

    id: str
    status: str
    reason: str
    candidate: dict[str, Any]
    incumbent: dict[str, Any]
    holdout: list[dict[str, Any]] = field(default_factory=list)
    test: dict[str, Any] | None = None
    created_at: float = field(default_factory=time.time)
    reviewed_at: float | None = None
    review_note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Promotion:
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


def new_id() -> str:
    return "p-" + uuid.uuid4().hex[:10]


def pair_runs(candidate_runs: list[dict[str, Any]], incumbent_runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Match runs on (task, seed); the paired difference is in the runs' fitness (``value``: the
    area under the best-so-far curve or the final normalised improvement, whichever the run used;
    runs recorded before ``value`` existed use ``normalised``)."""
    inc = {(r["task"], r["seed"]): r for r in incumbent_runs}
    pairs = []
    for r in candidate_runs:
        other = inc.get((r["task"], r["seed"]))
        if other is None:
            continue
        mine, theirs = r.get("value", r["normalised"]), other.get("value", other["normalised"])
        pairs.append({"task": r["task"], "seed": r["seed"], "candidate": mine, "incumbent": theirs,
                      "diff": mine - theirs, "candidate_final": r["normalised"], "incumbent_final": other["normalised"],
                      "candidate_best": r["best"], "incumbent_best": other["best"], "initial": r["initial"]})
    return pairs


def per_task(pairs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per held-out task: mean fitness of each side, the mean gain and the wins (for the report)."""
    out: dict[str, dict[str, float]] = {}
    for task in dict.fromkeys(p["task"] for p in pairs):
        mine = [p for p in pairs if p["task"] == task]
        n = len(mine)
        out[task] = {"n": n, "candidate": sum(p["candidate"] for p in mine) / n,
                     "incumbent": sum(p["incumbent"] for p in mine) / n,
                     "gain": sum(p["diff"] for p in mine) / n, "wins": sum(1 for p in mine if p["diff"] > 0),
                     "losses": sum(1 for p in mine if p["diff"] < 0)}
    return out


def decide(pairs: list[dict[str, Any]], *, alpha: float, margin: float, approval: str,
           candidate: dict[str, Any], incumbent: dict[str, Any]) -> Promotion:
    """The decision for `pairs` (see the module docstring); not yet recorded."""
    test: PairedTest = paired_permutation_test([p["candidate"] for p in pairs], [p["incumbent"] for p in pairs],
                                               alpha=alpha, margin=margin)
    if test.accepted:
        status = "pending" if approval == "human" else "promoted"
        reason = "held-out improvement " + test.summary()
    else:
        status, reason = "rejected", "no verified held-out improvement: " + test.summary()
    return Promotion(new_id(), status, reason, candidate, incumbent, pairs, test.to_dict())


def rejection(reason: str, *, candidate: dict[str, Any], incumbent: dict[str, Any]) -> Promotion:
    """A rejection decided before any held-out run (no candidate, or it failed on held-out tasks)."""
    return Promotion(new_id(), "rejected", reason, candidate, incumbent)


class PromotionLog:
    """``OUT/promotions.json``: every decision, oldest first; rewritten atomically."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / PROMOTIONS_FILE

    def load(self) -> list[Promotion]:
        if not self.path.is_file():
            return []
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise UserError(f"{self.path} is not valid JSON: {exc}") from None
        return [Promotion.from_dict(d) for d in data.get("promotions", [])]

    def save(self, items: list[Promotion]) -> None:
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps({"promotions": [p.to_dict() for p in items]}, indent=2, default=str), encoding="utf-8")
        os.replace(tmp, self.path)

    def add(self, promotion: Promotion) -> None:
        items = self.load()
        items.append(promotion)
        self.save(items)

    def get(self, promotion_id: str) -> Promotion:
        for p in self.load():
            if p.id == promotion_id:
                return p
        raise UserError(f"no promotion {promotion_id!r} in {self.path}")

    def replace(self, promotion: Promotion) -> None:
        self.save([promotion if p.id == promotion.id else p for p in self.load()])


def install(out_dir: str | Path, strategy_file: str | Path, policy: dict[str, Any] | None = None) -> Path:
    """Make `strategy_file` the incumbent; returns the sandboxed proxy to use in ordinary runs.

    The strategy's numeric policy (`policy`), which an ordinary run does not read from a
    strategy file, is written as ``--set`` arguments to ``OUT/incumbent_config.txt``."""
    out = Path(out_dir)
    target = out / INCUMBENT_FILE
    target.write_text(Path(strategy_file).read_text(encoding="utf-8"), encoding="utf-8")
    proxy = out / SANDBOXED_FILE
    proxy.write_text(file_proxy_source(target), encoding="utf-8")
    sets = [f"--set {key}={json.dumps(value)}" for key, value in sorted((policy or {}).items())]
    (out / CONFIG_FILE).write_text(" ".join([f"--set strategy={proxy.resolve()}", *sets]) + "\n", encoding="utf-8")
    return proxy


def _event(out_dir: Path, kind: str, payload: dict[str, Any]) -> None:
    """Add an event to the outer run, if the report says where it is."""
    report = out_dir / REPORT_FILE
    if not report.is_file():
        return
    info = json.loads(report.read_text(encoding="utf-8"))
    if not info.get("storage_url") or not info.get("run_id"):
        return
    from ..storage import open_storage

    store = open_storage(info["storage_url"], create=False)
    try:
        store.add_event(info["run_id"], kind, payload)
    finally:
        store.close()


def record(out_dir: str | Path, promotion: Promotion, *, storage: Any = None, run_id: str | None = None) -> None:
    """Write the decision to the JSON log and as a ``promotion`` event; install it if promoted."""
    out = Path(out_dir)
    PromotionLog(out).add(promotion)
    payload = promotion.to_dict()
    if storage is not None and run_id is not None:
        storage.add_event(run_id, "promotion", payload)
    else:
        _event(out, "promotion", payload)
    if promotion.status == "promoted" and promotion.candidate.get("file"):
        install(out, out / promotion.candidate["file"], promotion.candidate.get("policy"))


def review(out_dir: str | Path, promotion_id: str, *, approve: bool, note: str = "") -> Promotion:
    """A person's decision on a pending promotion (``evoforge audit``)."""
    out = Path(out_dir)
    log = PromotionLog(out)
    p = log.get(promotion_id)
    if p.status != "pending":
        raise UserError(f"promotion {promotion_id} is {p.status}, not pending; only pending promotions can be reviewed")
    p.status = "approved" if approve else "rejected_by_human"
    p.reviewed_at = time.time()
    p.review_note = note
    log.replace(p)
    if approve:
        install(out, out / p.candidate["file"], p.candidate.get("policy"))
    _event(out, "promotion_review", {"id": p.id, "status": p.status, "note": note})
    return p
