"""Zero-cost mutation operators: new candidates without a model call.

When the model is tiny, most of its proposals fail; cheap structural and numeric mutations
keep the search moving (tuning constants is often where the last points of score are).
Every operator only touches lines inside EVOLVE-BLOCKs, is deterministic given its
``random.Random``, tries a few random choices, and returns None rather than a program that
fails `check_syntax` or equals its input. Python gets all operators (via ``tokenize`` and
``ast``, so strings and comments are never touched); C-like languages get
`perturb_constants` and block-wise crossover.
"""
from __future__ import annotations

import ast
import difflib
import random
from collections.abc import Callable
from dataclasses import dataclass

from evoforge.bundle import is_bundle
from evoforge.errors import TaskError
from evoforge.mutate.blocks import (
    block_line_numbers,
    find_blocks,
    replace_blocks,
    split_lines,
)
from evoforge.mutate.constants import perturb_constants, valid_child

__all__ = [
    "OPERATORS",
    "apply_operator",
    "crossover_blocks",
    "delete_statement",
    "duplicate_statement",
    "perturb_constants",
    "swap_statements",
]

_TRIES = 8
_COMPOUND = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.If, ast.For, ast.AsyncFor,
             ast.While, ast.With, ast.AsyncWith, ast.Try, getattr(ast, "TryStar", ast.Try),
             getattr(ast, "Match", ast.If))
_JUMPS = (ast.Return, ast.Raise, ast.Break, ast.Continue, ast.Global, ast.Nonlocal, ast.Pass)


# --- statements -----------------------------------------------------------------------------

@dataclass(frozen=True)
class _Span:
    """A statement occupying whole lines ``first..last`` (1-based) inside a block."""

    first: int
    last: int
    node: ast.stmt
    suite: int  # id() of the statement list it belongs to
    index: int
    suite_len: int

    @property
    def compound(self) -> bool:
        return isinstance(self.node, _COMPOUND)


def _spans(code: str) -> list[_Span]:
    try:
        tree = ast.parse(code)
        inside = block_line_numbers(code)
    except (SyntaxError, ValueError, TaskError, RecursionError):
        return []
    lines = [ln.rstrip("\r\n").encode("utf-8") for ln in split_lines(code)]
    out = []
    for node in ast.walk(tree):
        for field in ("body", "orelse", "finalbody"):
            suite = getattr(node, field, None)
            if not isinstance(suite, list) or not suite or not isinstance(suite[0], ast.stmt):
                continue
            for i, st in enumerate(suite):
                decorators = getattr(st, "decorator_list", [])
                first = min([st.lineno] + [d.lineno for d in decorators])
                last = st.end_lineno or st.lineno
                col = st.col_offset if not decorators else min(d.col_offset - 1 for d in decorators)
                prefix = lines[first - 1][:max(col, 0)]
                suffix = lines[last - 1][st.end_col_offset or 0:].decode("utf-8", "replace").strip()
                if prefix.strip() or (suffix and not suffix.startswith("#")):
                    continue  # shares a line with another statement (";") or odd layout
                if not all(n in inside for n in range(first, last + 1)):
                    continue
                if isinstance(st, ast.Expr) and isinstance(st.value, ast.Constant) \
                        and isinstance(st.value.value, str):
                    continue  # docstrings are not behaviour
                out.append(_Span(first, last, st, id(suite), i, len(suite)))
    out.sort(key=lambda s: s.first)
    return out


def _lines_with_newline(code: str) -> list[str]:
    lines = split_lines(code)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    return lines


def _finish(code: str, lines: list[str]) -> str:
    text = "".join(lines)
    return text if code.endswith("\n") or not text.endswith("\n") else text[:-1]


def _try(code: str, rng: random.Random, candidates: list, build: Callable) -> str | None:
    for _ in range(_TRIES):
        if not candidates:
            return None
        pick = candidates.pop(rng.randrange(len(candidates)))
        result = valid_child(code, build(pick), "python")
        if result is not None:
            return result
    return None


def swap_statements(code: str, rng: random.Random) -> str | None:
    """Swap two adjacent simple statements of one suite (lines between them stay put)."""
    spans = [s for s in _spans(code) if not s.compound and not isinstance(s.node, _JUMPS)]
    by_key = {(s.suite, s.index): s for s in spans}
    pairs = [(s, by_key[(s.suite, s.index + 1)]) for s in spans if (s.suite, s.index + 1) in by_key]
    lines = _lines_with_newline(code)

    def build(pair: tuple[_Span, _Span]) -> str:
        a, b = pair
        new = (lines[: a.first - 1] + lines[b.first - 1: b.last] + lines[a.last: b.first - 1]
               + lines[a.first - 1: a.last] + lines[b.last:])
        return _finish(code, new)

    return _try(code, rng, pairs, build)


def duplicate_statement(code: str, rng: random.Random) -> str | None:
    """Repeat one simple statement right after itself (e.g. a second relaxation step)."""
    spans = [s for s in _spans(code) if not s.compound and not isinstance(s.node, _JUMPS)]
    lines = _lines_with_newline(code)

    def build(s: _Span) -> str:
        return _finish(code, lines[: s.last] + lines[s.first - 1: s.last] + lines[s.last:])

    return _try(code, rng, spans, build)


def delete_statement(code: str, rng: random.Random) -> str | None:
    """Delete one statement (a lone statement becomes ``pass``); never a def, class,
    import or return, whose removal almost surely just breaks the program."""
    keep = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom,
            ast.Return, ast.Pass, ast.Global, ast.Nonlocal)
    spans = [s for s in _spans(code) if not isinstance(s.node, keep)]
    lines = _lines_with_newline(code)

    def build(s: _Span) -> str:
        filler = [_indent(lines[s.first - 1]) + "pass\n"] if s.suite_len == 1 else []
        return _finish(code, lines[: s.first - 1] + filler + lines[s.last:])

    return _try(code, rng, spans, build)


def _stmt_key(code_lines: list[str], s: _Span) -> tuple[str, str]:
    name = getattr(s.node, "name", None) or code_lines[s.first - 1].strip()[:40]
    return type(s.node).__name__, name


def crossover_blocks(code_a: str, code_b: str, rng: random.Random,
                     language: str = "python") -> str | None:
    """Child of two programs with the same blocks; the outside always comes from ``code_a``.

    Several differing blocks: each block from a or b (both parents contribute). One
    differing block (Python): one-point splice at a statement boundary, a's statements before
    the cut and b's after, cutting b at the statement matching a's (same def name, same line)
    when there is one, else at any statement of the same indentation.
    """
    try:
        blocks_a, blocks_b = find_blocks(code_a), find_blocks(code_b)
    except TaskError:
        return None
    if len(blocks_a) != len(blocks_b):
        return None
    texts_a, texts_b = [b.text for b in blocks_a], [b.text for b in blocks_b]
    differ = [i for i in range(len(texts_a)) if texts_a[i] != texts_b[i]]
    if not differ:
        return None
    for _ in range(_TRIES if len(differ) > 1 else 0):
        take = [i for i in differ if rng.random() < 0.5]
        if 0 < len(take) < len(differ):
            texts = [texts_b[i] if i in take else t for i, t in enumerate(texts_a)]
            result = valid_child(code_a, replace_blocks(code_a, texts), language)
            if result is not None:
                return result
    if language.lower() not in ("python", "py"):
        return None
    idx = rng.choice(differ)
    ba, bb = blocks_a[idx], blocks_b[idx]
    spans_a = [s for s in _spans(code_a) if ba.start_line < s.first < ba.end_line]
    spans_b = [s for s in _spans(code_b) if bb.start_line < s.first < bb.end_line]
    lines_a, lines_b = _lines_with_newline(code_a), _lines_with_newline(code_b)
    # Align the two blocks line by line, so a cut in a maps to "the same place" in b.
    body_a = [ln.strip() for ln in lines_a[ba.start_line: ba.end_line - 1]]
    body_b = [ln.strip() for ln in lines_b[bb.start_line: bb.end_line - 1]]
    anchors = difflib.SequenceMatcher(None, body_a, body_b, autojunk=False).get_matching_blocks()

    def mapped(line_a: int) -> int:  # 1-based line of a → 1-based line of b
        rel = line_a - ba.start_line - 1
        i, j, _ = max((m for m in anchors if m.a <= rel), key=lambda m: m.a, default=(0, 0, 0))
        return bb.start_line + 1 + j + (rel - i)  # past the anchor: same offset

    cuts_a = [s for s in spans_a if s.first > ba.start_line + 1]
    for _ in range(_TRIES):
        if not cuts_a or not spans_b:
            return None
        sa = cuts_a.pop(rng.randrange(len(cuts_a)))
        indent = _indent(lines_a[sa.first - 1])
        level = [s for s in spans_b if _indent(lines_b[s.first - 1]) == indent]
        same = [s for s in level if _stmt_key(lines_b, s) == _stmt_key(lines_a, sa)]
        target = mapped(sa.first)
        later = [s for s in level if s.first >= target]
        sb = same[0] if same else (later[0] if later else (rng.choice(level) if level else None))
        if sb is None:
            continue
        head = lines_a[ba.start_line: sa.first - 1]
        tail = lines_b[sb.first - 1: bb.end_line - 1]
        texts = list(texts_a)
        texts[idx] = "".join(head + tail)
        child = replace_blocks(code_a, texts)
        if child != code_b:
            result = valid_child(code_a, child, language)
            if result is not None:
                return result
    return None


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


OPERATORS: dict[str, Callable[..., str | None]] = {
    "perturb": perturb_constants,
    "swap": swap_statements,
    "duplicate": duplicate_statement,
    "delete": delete_statement,
    "crossover": crossover_blocks,
}


def apply_operator(name: str, code: str, rng: random.Random, other: str | None = None,
                   language: str = "python", scale: float = 0.1) -> str | None:
    """Run operator ``name``; None when it does not apply or would not change the code.

    ``other`` is the second parent for "crossover". Non-Python code supports only "perturb"
    and "crossover" (the statement operators need Python's parser). A folder program (a bundle)
    is changed one editable file at a time (`evoforge.mutate.bundle_ops`). ``scale`` is perturb's
    step size (mutation.perturb_scale).
    """
    if name not in OPERATORS:
        raise KeyError(f"unknown operator {name!r}; known: {', '.join(OPERATORS)}")
    if is_bundle(code):  # a folder program: one file at a time, in its own language
        from evoforge.mutate.bundle_ops import bundle_crossover, bundle_operator
        result = (bundle_crossover(code, other, rng, language) if name == "crossover"
                  else bundle_operator(name, code, rng, language))
    elif name == "crossover":
        result = crossover_blocks(code, other, rng, language) if other is not None else None
    elif name == "perturb":
        result = perturb_constants(code, rng, scale=scale, language=language)
    elif language.lower() not in ("python", "py"):
        return None
    else:
        result = OPERATORS[name](code, rng)
    return None if result is None or result == code else result
