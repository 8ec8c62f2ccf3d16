"""Constant tuning without a model call: nudge numeric literals inside the evolve blocks.

Tuning constants is often where the last points of a score are, and it costs nothing.
Literals are found with ``tokenize`` for Python (so strings and comments are never touched)
and with a small scanner for C-like code (skipping strings, chars and comments).
"""
from __future__ import annotations

import bisect
import io
import math
import random
import re
import tokenize
from collections.abc import Callable

from evoforge.bundle import is_bundle
from evoforge.errors import TaskError
from evoforge.mutate.blocks import (
    block_line_numbers,
    find_blocks,
    outside_blocks_equal,
    split_lines,
)
from evoforge.mutate.edits import check_syntax

__all__ = ["perturb_constants"]

_TRIES = 8
_C_NUMBER = re.compile(r"(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def valid_child(old: str, new: str | None, language: str) -> str | None:
    """``new`` if it differs from ``old``, passes `check_syntax` and keeps the outside bytes."""
    if new is None or new == old or check_syntax(new, language) is not None:
        return None
    return new if outside_blocks_equal(old, new) else None


def _number_spans_python(code: str) -> list[tuple[int, int, str]]:
    """(start offset, end offset, text) of every NUMBER token in the source."""
    starts = [0]
    for line in split_lines(code):
        starts.append(starts[-1] + len(line))
    spans = []
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.NUMBER:
            (r0, c0), (r1, c1) = tok.start, tok.end
            spans.append((starts[r0 - 1] + c0, starts[r1 - 1] + c1, tok.string))
    return spans


def _number_spans_c(code: str) -> list[tuple[int, int, str]]:
    """Decimal number literals in C-like code, skipping strings, chars and comments."""
    spans, i, n = [], 0, len(code)
    while i < n:
        if code.startswith("//", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            i = n if j < 0 else j + 2
        elif code[i] in "\"'":
            j = i + 1
            while j < n and code[j] not in (code[i], "\n"):
                j += 2 if code[j] == "\\" else 1
            i = j + 1
        elif code[i].isdigit() or (code[i] == "." and code[i + 1: i + 2].isdigit()):
            m = _C_NUMBER.match(code, i)
            assert m is not None
            prev = code[i - 1] if i else " "
            after = code[m.end(): m.end() + 1]
            if not (prev.isalnum() or prev in "_.") and not (after.isalnum() or after in "_."):
                spans.append((i, m.end(), m.group()))
            i = m.end()
            while i < n and (code[i].isalnum() or code[i] in "_."):
                i += 1  # skip suffixes / hex digits of a literal we left alone
        elif code[i].isalpha() or code[i] == "_":
            while i < n and (code[i].isalnum() or code[i] == "_"):
                i += 1
        else:
            i += 1
    return spans


def _new_number(text: str, rng: random.Random, scale: float) -> str | None:
    """A perturbed literal of the same kind (never negative: a unary minus stays outside)."""
    low = text.lower()
    if low.startswith(("0x", "0o", "0b")) or low.endswith("j"):
        return None  # bit masks and complex numbers are not tuning constants
    clean = text.replace("_", "")
    if re.fullmatch(r"\d+", clean):
        n = int(clean)
        step = rng.randint(1, max(1, round(abs(n) * scale))) * rng.choice((-1, 1))
        new = n + step if n + step >= 0 else n + abs(step)
        return str(new)
    value = float(clean)
    if value == 0.0:
        new_v = abs(rng.gauss(0.0, scale)) or scale
    else:
        d = max(-3 * scale, min(3 * scale, rng.gauss(0.0, scale))) or scale
        new_v = abs(value * (1 + d))
    if not math.isfinite(new_v):
        return None
    digits = len(re.sub(r"[^0-9]", "", clean.split("e")[0].split("E")[0]).strip("0")) or 1
    out = f"{new_v:.{max(3, digits + 1)}g}"
    if not any(c in out for c in ".einf"):
        out += ".0"
    return None if float(out) == value else out


def perturb_constants(code: str, rng: random.Random, scale: float = 0.1,
                      language: str = "python") -> str | None:
    """Scale 1-3 numeric literals inside the blocks by about ±``scale`` of their magnitude
    (the step is drawn log-uniformly between ``scale``/30 and 2·``scale`` per proposal).

    Floats move by a Gaussian relative step (keeping their precision plus a digit); ints stay
    ints and move by 1..``scale``·|n| (so 0 becomes 1, never 0 again). Floats are preferred
    when present, since integers are often sizes and indices. A folder program gets one of its
    editable files perturbed, in that file's language (`evoforge.mutate.bundle_ops.per_file`).
    """
    if is_bundle(code):
        from evoforge.mutate.bundle_ops import per_file
        return per_file(code, rng, lambda text, lang: perturb_constants(text, rng, scale, lang))
    inside = block_line_numbers(code) if _blocks_ok(code) else set()
    try:
        spans = (_number_spans_python(code) if language.lower() in ("python", "py")
                 else _number_spans_c(code))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return None
    line_of = _line_index(code)
    spans = [s for s in spans if line_of(s[0]) in inside]
    if not spans:
        return None
    floats = [s for s in spans if not re.fullmatch(r"[\d_]+", s[2])]
    for _ in range(_TRIES):
        pool = floats if floats and rng.random() < 0.75 else spans
        chosen = rng.sample(pool, rng.randint(1, min(3, len(pool))))
        # log-uniform step size: mostly fine tuning, sometimes a bold move (a fixed scale either
        # stalls near an optimum or never gets there)
        step = scale * 10 ** rng.uniform(-1.5, 0.3)
        new = code
        for start, end, text in sorted(chosen, reverse=True):
            repl = _new_number(text, rng, step)
            if repl is not None:
                new = new[:start] + repl + new[end:]
        result = valid_child(code, new, language)
        if result is not None:
            return result
    return None


def _blocks_ok(code: str) -> bool:
    try:
        find_blocks(code)
    except TaskError:
        return False
    return True


def _line_index(code: str) -> Callable[[int], int]:
    """Offset → 1-based line number."""
    starts = [0] + [m.end() for m in re.finditer("\n", code)]
    return lambda offset: bisect.bisect_right(starts, offset)
