"""The read model shared by the dashboard API and the report: plain JSON-ready dicts.

Why a separate layer: the web API, the HTML report and the tests must agree on what "cost so
far", "failure reason" or "usage per model" mean, so those are computed once, here, from the
`Storage` protocol only (SQLite and PostgreSQL alike). Live polling is incremental: attempt rows
are read with ``since_index`` and model calls are re-read only when their count changed.
"""
from __future__ import annotations

import bisect
import math
import re
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..program import Attempt, AttemptStatus, LLMCallRecord
from .sources import RunHandle

REASON_CHARS = 240
EVENT_KINDS = ("new_best", "migration", "alert", "quarantine", "insight", "promotion")


def clean(value: Any) -> Any:
    """Make `value` strict-JSON safe: NaN/inf become None (browsers reject them), tuples lists."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    return str(value)


def scalar_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """Numbers (and short strings) only: rows go to the browser for every attempt."""
    out: dict[str, Any] = {}
    for k, v in (metrics or {}).items():
        if isinstance(v, bool):
            out[k] = int(v)
        elif isinstance(v, (int, float)):
            out[k] = clean(float(v))
        elif isinstance(v, str) and len(v) <= 40:
            out[k] = v
    return out


@dataclass
class CallIndex:
    """Model calls of one run, re-read only when their count changes (a cheap aggregate)."""

    count: int = -1
    calls: list[LLMCallRecord] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    prefix: list[float] = field(default_factory=list)  # prefix[i] = cost of calls[:i]
    by_attempt: dict[str, float] = field(default_factory=dict)
    calls_of: dict[str, list[tuple[float, float]]] = field(default_factory=dict)  # attempt -> [(time, cost)]

    def refresh(self, handle: RunHandle, count: int) -> None:
        if count == self.count:
            return
        calls = sorted(handle.storage.llm_calls(handle.key), key=lambda c: c.created_at)
        self.calls, self.count = calls, count
        self.times = [c.created_at for c in calls]
        self.prefix = [0.0]
        calls_of: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for c in calls:
            self.prefix.append(self.prefix[-1] + float(c.cost_usd or 0.0))
            if c.attempt_id:
                calls_of[c.attempt_id].append((c.created_at, float(c.cost_usd or 0.0)))
        self.calls_of = dict(calls_of)
        self.by_attempt = {k: sum(cost for _, cost in v) for k, v in calls_of.items()}

    def cost_until(self, t: float) -> float:
        """Dollars spent on model calls made at or before time `t`."""
        return self.prefix[bisect.bisect_right(self.times, t)]

    def spent_by(self, attempt: Attempt) -> float:
        """The run's spend once `attempt` exists: every call made before it was created, plus its
        own calls (made after its creation time, while its edit was being written)."""
        late = sum(cost for t, cost in self.calls_of.get(attempt.id, ()) if t > attempt.created_at)
        return self.cost_until(attempt.created_at) + late


class CallCache:
    """One `CallIndex` per run, shared by the server's threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_run: dict[str, CallIndex] = {}

    def get(self, handle: RunHandle, usage: dict[str, float] | None = None) -> CallIndex:
        usage = usage if usage is not None else handle.storage.usage_totals(handle.key)
        with self._lock:
            index = self._by_run.setdefault(handle.key, CallIndex())
            index.refresh(handle, int(usage.get("calls", 0)))
            return index


def compute_metrics(a: Attempt) -> dict[str, Any]:
    """The measured cost of an attempt's evaluation as plottable scalars (``compute.cpu_s``...):
    the dashboard's metric pickers then offer "score against CPU" like any evaluator metric."""
    cost = (a.metrics or {}).get("compute")
    if not isinstance(cost, dict):
        return {}
    out = {f"compute.{k}": clean(float(cost[k])) for k in ("cpu_s", "wall_s", "peak_memory_mb")
           if isinstance(cost.get(k), (int, float)) and not isinstance(cost.get(k), bool)}
    if isinstance((a.metrics or {}).get("compute_inflation"), dict):
        out["compute.inflation_ratio"] = clean(float(a.metrics["compute_inflation"].get("ratio", 0.0)))
    return out


def attempt_row(a: Attempt, calls: CallIndex) -> dict[str, Any]:
    """The light form of an attempt that plots, the tree and tables need (no code, no prompt).

    ``cum_cost`` is the run's model spend up to this attempt, including its own calls, so
    "score against cost" is a monotone x axis even when calls are not linked to attempts.
    ``cpu_s`` is the CPU its evaluation used (measured by the sandbox), None when unknown."""
    own = calls.by_attempt.get(a.id, 0.0)
    cum = calls.spent_by(a)
    compute = compute_metrics(a)
    return {
        "id": a.id, "parent_id": a.parent_id, "inspiration_ids": list(a.inspiration_ids or []),
        "index": a.proposal_index, "island": a.island, "generation": a.generation, "status": a.status.value,
        "mutation": a.mutation, "model": a.model, "score": clean(a.score), "private_score": clean(a.private_score),
        "metrics": {**scalar_metrics(a.metrics), **compute}, "reason": (a.reason or "")[:REASON_CHARS],
        "input_tokens": a.input_tokens, "output_tokens": a.output_tokens, "eval_seconds": clean(a.eval_seconds),
        "created_at": a.created_at, "cost": own, "cum_cost": cum, "cpu_s": compute.get("compute.cpu_s"),
    }


def next_since(rows: list[dict[str, Any]], since: int) -> int:
    """Where the next poll starts: at the oldest attempt still in flight (its row will change
    when evaluated), else just after the newest row seen."""
    pending = [r["index"] for r in rows if r["status"] == AttemptStatus.PENDING.value]
    if pending:
        return min(pending)
    return max([since - 1] + [r["index"] for r in rows]) + 1


def best_of(handle: RunHandle) -> Attempt | None:
    best = handle.storage.best_attempts(handle.key, 1, maximize=handle.maximize)
    return best[0] if best else None


def run_brief(handle: RunHandle) -> dict[str, Any]:
    """What the run picker shows."""
    info, best = handle.info, best_of(handle)
    return {
        "key": handle.key, "name": info.name, "source": handle.source, "created_at": info.created_at,
        "direction": "maximize" if handle.maximize else "minimize", "task": info.config.get("name", ""),
        "attempts": handle.storage.count_attempts(handle.key),
        "best": None if best is None else {"id": best.id, "score": clean(best.score), "index": best.proposal_index},
    }


def poll(handle: RunHandle, cache: CallCache, since_index: int = 0) -> dict[str, Any]:
    """New and changed attempts since `since_index`, plus the run's headline numbers."""
    store, key = handle.storage, handle.key
    usage = store.usage_totals(key)
    calls = cache.get(handle, usage)
    rows = [attempt_row(a, calls) for a in store.attempts(key, since_index=since_index, with_code=False)]
    events = store.events(key)
    return {
        "run": run_brief(handle), "since_index": since_index, "next_since": next_since(rows, since_index),
        "attempts": rows, "usage": clean(usage), "kinds": clean(store.get_state(key, "kinds", {}) or {}),
        "elapsed_s": clean(store.get_state(key, "elapsed_s", None)), "meta": clean(handle.info.meta),
        "events": dict(Counter(e["kind"] for e in events)), "config": clean(handle.info.config),
    }


def attempt_detail(handle: RunHandle, attempt_id: str) -> dict[str, Any] | None:
    """Everything about one attempt: code, diff against its parent, prompt and reply, outputs.
    A multi-file program (a bundle) also gets ``files``: each file's text, status against the
    parent and own diff (`files.program_files`); ``files`` is None for a single-file program."""
    from ..bundle import BundleError, file_diff, is_bundle
    from ..mutate.edits import unified_diff
    from .files import program_files

    store = handle.storage
    a = store.get_attempt(attempt_id)
    if a is None or a.run_id != handle.key:
        return None
    parent = store.get_attempt(a.parent_id) if a.parent_id else None
    diff = a.diff
    if not diff and parent is not None and parent.code is not None and a.code is not None:
        try:
            per_file = is_bundle(a.code) or is_bundle(parent.code)
            diff = file_diff(parent.code, a.code) if per_file else unified_diff(parent.code, a.code)
        except BundleError:  # a damaged bundle has no per-file diff; files_error says why, the raw code is shown
            diff = ""
    calls = [c for c in store.llm_calls(handle.key) if c.attempt_id == a.id]
    children = [c for c in store.attempts(handle.key, with_code=False) if c.parent_id == a.id]
    return clean({
        "id": a.id, "run": handle.key, "index": a.proposal_index, "status": a.status.value, "score": a.score,
        "private_score": a.private_score, "metrics": a.metrics, "island": a.island, "generation": a.generation,
        "mutation": a.mutation, "model": a.model, "parent_id": a.parent_id,
        "parent_score": parent.score if parent else None, "inspiration_ids": a.inspiration_ids,
        "children": [{"id": c.id, "score": c.score, "status": c.status.value, "index": c.proposal_index} for c in children],
        "code": a.code, "diff": diff, **program_files(a.code, parent.code if parent else None),
        "prompt": a.prompt, "response": a.response, "feedback": a.feedback,
        "reason": a.reason, "stdout": a.stdout, "stderr": a.stderr, "input_tokens": a.input_tokens,
        "output_tokens": a.output_tokens, "eval_seconds": a.eval_seconds, "created_at": a.created_at,
        "cost_usd": sum(c.cost_usd for c in calls),
        "compute": a.metrics.get("compute"), "compute_inflation": a.metrics.get("compute_inflation"),
        "calls": [{"model": c.model, "purpose": c.purpose, "latency_s": c.latency_s, "cost_usd": c.cost_usd,
                   "error": c.error} for c in calls],
    })


def usage_by_model(calls: list[LLMCallRecord]) -> list[dict[str, Any]]:
    """Calls, tokens, cost, latency and errors per model (most expensive first)."""
    acc: dict[str, dict[str, Any]] = {}
    for c in calls:
        m = acc.setdefault(c.model, {"model": c.model, "calls": 0, "errors": 0, "input_tokens": 0, "output_tokens": 0,
                                     "reasoning_tokens": 0, "cost_usd": 0.0, "latency_s": 0.0, "purposes": {}})
        m["calls"] += 1
        m["errors"] += 1 if c.error else 0
        m["input_tokens"] += c.input_tokens
        m["output_tokens"] += c.output_tokens
        m["reasoning_tokens"] += c.reasoning_tokens
        m["cost_usd"] += c.cost_usd
        m["latency_s"] += c.latency_s
        m["purposes"][c.purpose] = m["purposes"].get(c.purpose, 0) + 1
    for m in acc.values():
        m["mean_latency_s"] = m.pop("latency_s") / m["calls"] if m["calls"] else 0.0
    return sorted(acc.values(), key=lambda m: (-m["cost_usd"], -m["calls"], m["model"]))


def usage(handle: RunHandle) -> dict[str, Any]:
    """Model usage and the proposal-kind bandit, for the models view."""
    store = handle.storage
    calls = store.llm_calls(handle.key)
    attempts = store.attempts(handle.key, with_code=False)
    outcome: dict[str, Counter] = defaultdict(Counter)
    for a in attempts:
        if a.model:
            outcome[a.model]["ok" if a.is_program else "failed"] += 1
    models = usage_by_model(calls)
    for m in models:
        m["programs"] = outcome[m["model"]]["ok"]
        m["failed_attempts"] = outcome[m["model"]]["failed"]
    return clean({"models": models, "totals": store.usage_totals(handle.key),
                  "kinds": store.get_state(handle.key, "kinds", {}) or {}})


_VOLATILE = re.compile(r"0x[0-9a-f]+|\b[0-9a-f]{8,}\b|\d+(\.\d+)?")


def reason_key(reason: str) -> str:
    """Group failures whose messages differ only in numbers, ids or addresses."""
    first = (reason or "(no reason recorded)").strip().splitlines()[0] if reason and reason.strip() else "(no reason recorded)"
    return _VOLATILE.sub("#", first)[:160]


def failures(attempts: list[Attempt]) -> dict[str, Any]:
    """Failed attempts by status and by (normalised) reason, with an example of each."""
    failed = [a for a in attempts if not a.is_program and a.status is not AttemptStatus.PENDING]
    by_status = Counter(a.status.value for a in failed)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for a in failed:
        k = (a.status.value, reason_key(a.reason))
        g = groups.setdefault(k, {"status": k[0], "reason": k[1], "count": 0, "example": a.id,
                                  "example_reason": (a.reason or "")[:REASON_CHARS], "mutations": Counter()})
        g["count"] += 1
        g["mutations"][a.mutation] += 1
    reasons = sorted(groups.values(), key=lambda g: (-g["count"], g["status"], g["reason"]))
    for g in reasons:
        g["mutations"] = dict(g["mutations"])
    total = sum(1 for a in attempts if a.status is not AttemptStatus.PENDING)
    return {"total": total, "failed": len(failed), "by_status": dict(by_status.most_common()), "reasons": reasons}


def events(handle: RunHandle, kind: str | None = None) -> list[dict[str, Any]]:
    return clean(handle.storage.events(handle.key, kind))


def front(handle: RunHandle) -> dict[str, Any]:
    """A many-objective run's front for the dashboard's scatter: every valid program's objective
    values (raw, as the evaluator gave them) with a flag for the non-dominated ones, each with its
    id so a point leads to its program (`/api/runs/KEY/attempts/ID`), and the hypervolume after
    each proposal that changed it. ``{"objectives": []}`` for a single-objective run."""
    from ..engine.objectives import ObjectiveSpec, front_summary

    spec = ObjectiveSpec.from_dict(handle.info.config)
    if spec is None:
        return {"objectives": [], "points": [], "hypervolume": None, "history": []}
    programs = handle.storage.attempts(handle.key, status=AttemptStatus.OK, with_code=False)
    summary = front_summary(spec, programs)
    on_front = {a.id for a, _ in summary.front}
    points = [{"id": a.id, "index": a.proposal_index, "island": a.island, "front": a.id in on_front,
               "values": {n: clean(a.metrics["objectives"][n]) for n in spec.names}}
              for a in programs if isinstance((a.metrics or {}).get("objectives"), dict)]
    return {
        "objectives": [{"name": n, "direction": "maximize" if up else "minimize", "reference": r}
                       for n, up, r in zip(spec.names, spec.maximize, spec.references)],
        "mode": spec.mode, "points": points, "hypervolume": clean(summary.hypervolume),
        "history": [{"index": i, "hypervolume": clean(hv)} for i, hv in summary.history],
    }
