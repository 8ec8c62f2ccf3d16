"""Coordinate screening: the outer run tries every knob of a numeric strategy before it combines any.

Why: with no model, the outer run of ``evoforge self-improve`` had one operator, ``perturb``,
which moves randomly chosen knobs. A strategy with ten knobs and twelve outer proposals can then
miss the one knob that matters: on the no-model demo's outer seed 2 the step-size knob was never
moved and nothing was promoted (benchmarks/README.md, issue 18). A direct search that polls
every coordinate first cannot miss a knob and costs a known number of proposals — the
exploratory moves of Hooke & Jeeves (1961), the coordinate directions of compass search (Kolda,
Lewis & Torczon, SIAM Review 2003) — and its pattern move then follows the directions that paid.

The ``coordinate`` proposal kind, in the order its proposals are made:

1. **screen** — the incumbent (the run's initial program) with one knob moved one level up,
   then the same knob one level down, knob by knob in file order. A knob is a top-level
   ``NAME = number`` inside an EVOLVE-BLOCK; an int moves by 1, a float by a factor 2, and a
   move that would change a knob's sign (a level of 0 to -1) is skipped. K knobs: at most 2K
   proposals.
2. **combine** — the incumbent with, for every knob, the better of its screened moves when that
   move scored above the incumbent (one proposal, when at least two knobs paid).
3. **add** — when the combination did not beat the best single move (knobs that interact, or
   screen scores that were partly noise): greedy forward selection, from the best single move,
   adding the other paid moves one at a time (best screened first), each kept only if it scored
   higher (at most one proposal per paid knob beyond the first).
4. **extend** — the pattern move: from the best-scored strategy so far, every knob it moved away
   from the incumbent goes one more level the same way; repeated while that keeps improving.
5. then ``perturb`` of the parent (with ``search.parent_selection: hill_climb`` in the outer
   run: the best strategy), at the run's ``mutation.perturb_scale``.

The moves read the run's own attempts (their code and training scores), so the search needs no
state of its own: `bind` names the run folder for the duration of the outer run. Unbound (the
kind configured in some other run) it proposes a random one-knob move of the parent. The scores
are the ordinary outer fitness (training tasks only, with racing); the held-out promotion gate
is not touched.
"""
from __future__ import annotations

import ast
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .blocks import block_line_numbers

KIND = "coordinate"
Number = int | float


@dataclass(frozen=True)
class Knob:
    """One tunable number: its name and where its literal sits (1-based line, 0-based columns)."""

    name: str
    value: Number
    line: int
    start: int
    end: int


def knobs(code: str) -> list[Knob]:
    """The knobs of `code`: top-level ``NAME = number`` assignments inside an EVOLVE-BLOCK, in file
    order (a negative literal counts; bools do not). Empty when the code does not parse."""
    try:
        tree = ast.parse(code)
        lines = block_line_numbers(code)
    except Exception:  # noqa: BLE001 - a program that cannot be read has no knobs
        return []
    found = []
    for st in tree.body:
        if not (isinstance(st, ast.Assign) and len(st.targets) == 1 and isinstance(st.targets[0], ast.Name)
                and st.lineno in lines and st.value.end_lineno == st.lineno):
            continue
        node, sign = st.value, 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            node, sign = node.operand, -1
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            v = st.value
            found.append(Knob(st.targets[0].id, sign * node.value, st.lineno, v.col_offset, int(v.end_col_offset or 0)))
    return found


def vector(code: str) -> dict[str, Number]:
    """The knob values of `code` by name."""
    return {k.name: k.value for k in knobs(code)}


def with_values(code: str, values: dict[str, Number]) -> str:
    """`code` with the named knobs set to `values` (only their literals change)."""
    lines = code.splitlines(keepends=True)
    for k in sorted(knobs(code), key=lambda k: (k.line, -k.start)):
        if k.name in values and values[k.name] != k.value:
            text = lines[k.line - 1]
            new = values[k.name]
            literal = repr(float(new)) if isinstance(k.value, float) else str(int(new))
            lines[k.line - 1] = text[:k.start] + literal + text[k.end:]
    return "".join(lines)


def step(value: Number, direction: int) -> Number | None:
    """`value` one level up (+1) or down (-1); None when the move would change its sign."""
    new: Number = value + direction if isinstance(value, int) else value * 2.0 ** direction
    if (value >= 0) != (new >= 0) or (isinstance(value, float) and value == 0.0):
        return None
    return new


def screen_moves(base: dict[str, Number]) -> list[dict[str, Number]]:
    """The screen of `base`: each knob one level up, then down, in order (sign changes skipped)."""
    moves = []
    for name, value in base.items():
        for direction in (1, -1):
            new = step(value, direction)
            if new is not None:
                moves.append({**base, name: new})
    return moves


def _key(values: dict[str, Number]) -> tuple[tuple[str, float], ...]:
    return tuple(sorted((k, float(v)) for k, v in values.items()))


@dataclass(frozen=True)
class Scored:
    """A proposed strategy's knobs and its outer (training) score, None while unscored or invalid."""

    values: dict[str, Number]
    score: float | None


def next_values(base: Scored, tried: Sequence[Scored]) -> tuple[str, dict[str, Number]] | None:
    """(phase, knob values) of the next coordinate proposal given the incumbent `base` and every
    strategy proposed so far, or None when screen, combine, add and extend are spent."""
    seen = {_key(base.values)} | {_key(t.values) for t in tried}
    screen = screen_moves(base.values)
    for move in screen:
        if _key(move) not in seen:
            return "screen", move
    if base.score is None:
        return None
    scores = {_key(t.values): t.score for t in tried if t.score is not None}
    paid = _paid_moves(base, screen, scores)
    combined = {**base.values, **{name: value for name, value, _ in paid}}
    if len(paid) >= 2 and _key(combined) not in seen:
        return "combine", combined
    if len(paid) >= 2 and scores.get(_key(combined), float("-inf")) <= paid[0][2]:
        added = _next_addition(base, paid, scores, seen)
        if added is not None:
            return "add", added
    leader = max((t for t in tried if t.score is not None and t.values.keys() == base.values.keys()),
                 key=lambda t: t.score or 0.0, default=None)
    if leader is None or leader.score is None or leader.score <= base.score:
        return None
    extended = dict(leader.values)
    for name, value in leader.values.items():
        old = base.values[name]
        if value != old:
            new = step(value, 1 if value > old else -1)
            if new is not None:
                extended[name] = new
    if _key(extended) not in seen and extended != leader.values:
        return "extend", extended
    return None


def _paid_moves(base: Scored, screen: list[dict[str, Number]], scores: dict[tuple[tuple[str, float], ...], float]
                ) -> list[tuple[str, Number, float]]:
    """For every knob, the better of its screened moves when it scored above the incumbent, as
    (knob, new value, score), best first."""
    paid = []
    assert base.score is not None
    for name in base.values:
        best: tuple[str, Number, float] | None = None
        for move in screen:
            s = scores.get(_key(move))
            if move[name] != base.values[name] and s is not None and s > (best[2] if best else base.score):
                best = (name, move[name], s)
        if best is not None:
            paid.append(best)
    return sorted(paid, key=lambda p: -p[2])


def _next_addition(base: Scored, paid: list[tuple[str, Number, float]],
                   scores: dict[tuple[tuple[str, float], ...], float],
                   seen: set[tuple[tuple[str, float], ...]]) -> dict[str, Number] | None:
    """Greedy forward selection, for when the combination of every paid move did not beat the best
    single one (knobs that interact, or screen scores that were partly noise): start from the best
    single move and add the others one at a time, best screened first, keeping an addition only
    if it scored higher. Returns the next unscored addition, or None when every one was tried."""
    current = {**base.values, paid[0][0]: paid[0][1]}
    current_score = paid[0][2]
    for name, value, _ in paid[1:]:
        trial = {**current, name: value}
        key = _key(trial)
        if key not in seen:
            return trial
        s = scores.get(key)
        if s is not None and s > current_score:
            current, current_score = trial, s
    return None


_BOUND: dict[str, Path] = {}


@contextmanager
def bind(run_dir: str | Path) -> Iterator[None]:
    """Let the ``coordinate`` kind read the run in `run_dir` (its ``storage.url``) while the block runs."""
    previous = _BOUND.get("run_dir")
    _BOUND["run_dir"] = Path(run_dir)
    try:
        yield
    finally:
        if previous is None:
            _BOUND.pop("run_dir", None)
        else:
            _BOUND["run_dir"] = previous


def _run_attempts(run_dir: Path) -> list[Any] | None:
    """The bound run's attempts with code (None before the run exists)."""
    from ..storage import open_storage

    ref = run_dir / "storage.url"
    if not ref.is_file():
        return None
    url, _, name = ref.read_text(encoding="utf-8").partition("\n")
    store = open_storage(url.strip(), read_only=True)
    try:
        info = store.get_run(name.strip()) if name.strip() else (store.list_runs() or [None])[-1]
        return None if info is None else store.attempts(info.id)
    finally:
        store.close()


def propose(parent: str, rng: random.Random, scale: float | None = None) -> tuple[str, str | None]:
    """(phase, child code or None) of the next coordinate proposal from `parent`."""
    from .operators import apply_operator

    run_dir = _BOUND.get("run_dir")
    attempts = _run_attempts(run_dir) if run_dir is not None else None
    initial = next((a for a in attempts or [] if a.mutation == "initial" and a.code), None)
    if initial is None:  # unbound: one random one-knob move of the parent
        moves = screen_moves(vector(parent))
        return "random", with_values(parent, rng.choice(moves)) if moves else None
    base = Scored(vector(initial.code), initial.score if initial.is_program else None)
    tried = [Scored(vector(a.code), a.score if a.is_program else None)
             for a in attempts or [] if a.code and a.id != initial.id]
    tried = [t for t in tried if t.values.keys() == base.values.keys()]
    nxt = next_values(base, tried)
    if nxt is not None:
        phase, values = nxt
        return phase, with_values(parent, values)
    settings = {} if scale is None else {"scale": scale}
    return "perturb", apply_operator("perturb", parent, rng, other=None, language="python", **settings)


def operator(code: str, rng: random.Random, other: str | None, language: str, **settings: float) -> str | None:
    """The ``coordinate`` kind's operator (registered in `evoforge.mutate.kinds`): Python only."""
    if language != "python":
        return None
    return propose(code, rng, settings.get("scale"))[1]
