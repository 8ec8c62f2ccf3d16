"""Many objectives in the engine: read them from each evaluation, score and archive the program.

When a task lists `objectives:`, every valid evaluation must supply each one, as a finite number,
in `Result.metrics` (a dotted name reads inside a mapping: `compute.cpu_s` is the CPU the sandbox
measured for the evaluation; `score` is `Result.score`). One that is missing or not finite makes
the attempt `invalid`, with a reason naming it: a program whose objectives are unknown cannot be
placed on a front, and silently treating a missing value as zero would reward crashing early.

What is stored: ``metrics["objectives"]`` (name -> value as the evaluator gave it) and
``metrics["evaluator_score"]`` (the evaluator's own `score`); `attempt.score` becomes the
engine's one ranking number, which the population, the result guard, "best" and the kind bandit
read exactly as in a single-objective run:

- pareto mode: the hypervolume of the program's point alone (the box between it and the
  reference point). It is fixed when the program is told (a resumed run computes the same
  number), it never prefers a dominated point to the one dominating it, and the program it makes
  "best" is the single best compromise by the same measure the front is reported with. Parent
  selection over the front itself is the `pareto` rule (`search.parent_selection: pareto`).
- lexicographic mode: the first objective (negated when minimised); the `lexicographic` rule and
  "best" break its ties with the next objectives.

A single-objective task (no `objectives:`) never reaches this module's scoring.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..program import Attempt, AttemptStatus
from ..search.pareto import ObjectiveArchive, box_volume, hypervolume, non_dominated

OBJECTIVES_KEY = "objectives"
EVALUATOR_SCORE_KEY = "evaluator_score"


@dataclass(frozen=True)
class ObjectiveSpec:
    """The task's objectives: names, directions, references, and the mode that ranks them."""

    names: tuple[str, ...]
    maximize: tuple[bool, ...]
    references: tuple[float | None, ...]
    mode: str = "pareto"

    @classmethod
    def from_config(cls, cfg: Config) -> ObjectiveSpec | None:
        if not cfg.objectives:
            return None
        return cls(tuple(o.name for o in cfg.objectives), tuple(o.direction == "maximize" for o in cfg.objectives),
                   tuple(o.reference for o in cfg.objectives), cfg.objective_mode)

    @classmethod
    def from_dict(cls, config: Mapping[str, Any]) -> ObjectiveSpec | None:
        """From a stored run's config (`RunInfo.config`); None for a single-objective run."""
        items = config.get("objectives") or []
        if not items:
            return None
        return cls(tuple(str(o["name"]) for o in items), tuple(o.get("direction", "maximize") == "maximize" for o in items),
                   tuple(o.get("reference") for o in items), str(config.get("objective_mode", "pareto")))

    # -- reading --------------------------------------------------------------------------
    def read(self, metrics: Mapping[str, Any], score: float | None) -> dict[str, float]:
        """Each objective's value; ValueError naming the first missing or non-finite one."""
        values: dict[str, float] = {}
        for name in self.names:
            raw = score if name == "score" else _lookup(metrics, name)
            if raw is _MISSING or raw is None:
                known = ", ".join(sorted(k for k in metrics if k not in (OBJECTIVES_KEY, EVALUATOR_SCORE_KEY))) or "none"
                raise ValueError(f"objective {name!r} is missing from the evaluator's Result.metrics (metrics given: {known})")
            if isinstance(raw, bool) or not isinstance(raw, (int, float)):
                raise ValueError(f"objective {name!r} is not a number: {raw!r}")
            if not math.isfinite(raw):
                raise ValueError(f"objective {name!r} is not finite: {raw!r}")
            values[name] = float(raw)
        return values

    def oriented(self, values: Mapping[str, float]) -> tuple[float, ...]:
        """Higher is better in every coordinate."""
        return tuple(values[n] if up else -values[n] for n, up in zip(self.names, self.maximize))

    def stored(self, attempt: Attempt) -> tuple[float, ...] | None:
        """The oriented vector a stored program carries, None when it has none."""
        values = (attempt.metrics or {}).get(OBJECTIVES_KEY)
        if not isinstance(values, dict) or any(n not in values for n in self.names):
            return None
        return self.oriented(values)

    @property
    def has_reference(self) -> bool:
        return all(r is not None for r in self.references)

    def oriented_reference(self) -> tuple[float, ...]:
        return tuple(float(r) if up else -float(r) for r, up in zip(self.references, self.maximize))  # type: ignore[arg-type]

    def ranking_score(self, values: Mapping[str, float]) -> float:
        vec = self.oriented(values)
        if self.mode == "lexicographic":
            return vec[0]
        return box_volume(vec, self.oriented_reference())


_MISSING = object()


def _lookup(metrics: Mapping[str, Any], name: str) -> Any:
    if name in metrics:
        return metrics[name]
    node: Any = metrics
    for part in name.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


class Objectives:
    """The engine's part: score each told attempt and keep the per-island Pareto archive."""

    def __init__(self, spec: ObjectiveSpec, islands: int, capacity: int) -> None:
        self.spec = spec
        self.archive = ObjectiveArchive(islands, capacity)

    @classmethod
    def from_config(cls, cfg: Config) -> Objectives | None:
        spec = ObjectiveSpec.from_config(cfg)
        return None if spec is None else cls(spec, cfg.search.islands, cfg.search.archive_size)

    def bind(self, selector: Any) -> None:
        """Give a front-based selection rule the archive it reads."""
        if hasattr(selector, "bind"):
            selector.bind(self.archive)

    def apply(self, attempt: Attempt) -> None:
        """On a valid evaluation: store the objectives and replace the score by the ranking
        score, or make the attempt invalid naming what is wrong."""
        if attempt.status is not AttemptStatus.OK:
            return
        try:
            values = self.spec.read(attempt.metrics, attempt.score)
        except ValueError as exc:
            attempt.status, attempt.reason = AttemptStatus.INVALID, str(exc)
            attempt.metrics["rejected_score"], attempt.score = attempt.score, None
            return
        attempt.metrics[OBJECTIVES_KEY] = values
        attempt.metrics[EVALUATOR_SCORE_KEY] = attempt.score
        attempt.score = self.spec.ranking_score(values)

    def add(self, attempt: Attempt) -> str | None:
        """Put a valid program on its island's front ("added", "dominated", "duplicate")."""
        if not attempt.is_program:
            return None
        vec = self.spec.stored(attempt)
        if vec is None:
            return None
        fitness = float(attempt.score) if attempt.score is not None else 0.0
        return self.archive.add(attempt.id, vec, island=attempt.island, fitness=fitness, generation=attempt.generation)

    def better(self, a: Attempt, b: Attempt) -> bool:
        """`a` ranks above `b` (lexicographic mode compares whole vectors)."""
        if self.spec.mode == "lexicographic":
            va, vb = self.spec.stored(a), self.spec.stored(b)
            if va is not None and vb is not None:
                return va > vb
        return float(a.score) > float(b.score)  # type: ignore[arg-type]

    def restore(self, programs: Iterable[Attempt]) -> Attempt | None:
        """Rebuild the archive from stored programs (in proposal order) on resume; return the best
        of them as a live run would have kept it (the first to reach the top; lexicographic mode
        breaks ties of the first objective, which storage's best-by-score cannot)."""
        best = None
        for a in programs:
            if self.add(a) is not None and (best is None or self.better(a, best)):
                best = a
        return best


@dataclass(frozen=True)
class FrontSummary:
    """The run's front (all islands together) and its hypervolume over time."""

    front: list[tuple[Attempt, dict[str, float]]]      # non-dominated programs and their objectives
    hypervolume: float | None                           # None: some objective has no reference
    history: list[tuple[int, float]]                    # (proposal index, hypervolume) at each change


def front_summary(spec: ObjectiveSpec, programs: Sequence[Attempt]) -> FrontSummary:
    """The front of stored programs and, when every objective has a reference, the hypervolume
    after each proposal that changed it (programs are read in proposal order)."""
    rows = [(a, spec.stored(a)) for a in sorted(programs, key=lambda a: a.proposal_index)]
    rows = [(a, v) for a, v in rows if v is not None and a.is_program]
    ref = spec.oriented_reference() if spec.has_reference else None
    history: list[tuple[int, float]] = []
    current: list[tuple[float, ...]] = []
    last = None
    for a, v in rows:
        if ref is None:
            break
        if v not in current:
            pool = current + [v]
            current = [pool[i] for i in non_dominated(pool)]
        hv = hypervolume(current, ref)
        if hv != last:
            history.append((a.proposal_index, hv))
            last = hv
    first: dict[tuple[float, ...], Attempt] = {}
    for a, v in rows:   # equal points: the first program to reach one stands for it
        first.setdefault(v, a)
    vectors = list(first)
    front = [(first[vectors[i]], dict(first[vectors[i]].metrics[OBJECTIVES_KEY])) for i in non_dominated(vectors)]
    front.sort(key=lambda fv: spec.oriented(fv[1]), reverse=True)
    hv = hypervolume(vectors, ref) if ref is not None else None
    return FrontSummary(front, hv, history)


def stored_front(storage: Any, run_id: str) -> tuple[ObjectiveSpec, FrontSummary] | None:
    """The front of a stored run (None for a single-objective run): for the CLI and reports."""
    run = storage.get_run(run_id)
    spec = ObjectiveSpec.from_dict(run.config) if run is not None else None
    if spec is None:
        return None
    return spec, front_summary(spec, storage.attempts(run_id, status=AttemptStatus.OK, with_code=False))


def front_lines(spec: ObjectiveSpec, summary: FrontSummary, limit: int = 12) -> list[str]:
    """The front as text lines: one point per line, objectives in the task's order."""
    hv = "" if summary.hypervolume is None else f", hypervolume {summary.hypervolume:.6g}"
    arrows = ", ".join(f"{n} {'↑' if up else '↓'}" for n, up in zip(spec.names, spec.maximize))
    lines = [f"front ({spec.mode}): {len(summary.front)} non-dominated programs{hv}  [{arrows}]"]
    for a, values in summary.front[:limit]:
        point = "  ".join(f"{n}={values[n]:.6g}" for n in spec.names)
        lines.append(f"  {point}  (program {a.id}, proposal {a.proposal_index})")
    if len(summary.front) > limit:
        lines.append(f"  ... {len(summary.front) - limit} more (evoforge report RUN)")
    if len(summary.history) > 1:
        steps = ", ".join(f"{i}: {hv:.4g}" for i, hv in summary.history[-6:])
        lines.append(f"hypervolume after proposal  {steps}")
    return lines
