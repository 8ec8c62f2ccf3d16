"""Locating a SEARCH text in real code, from strict to tolerant, and re-indenting REPLACE.

Models (small ones above all) copy code imperfectly: they drop or add indentation, lose
trailing spaces, squeeze or add blank lines, or quote a fragment of a single line. Each
level below forgives one more of these, and the first level that finds a match wins, so an
exact copy is never second-guessed. Matching is line based and works on lines without their
endings.
"""
from __future__ import annotations

import difflib
from collections import Counter
from dataclasses import dataclass

LEVELS = ("exact", "indentation", "blank lines", "substring")


@dataclass(frozen=True)
class LineMatch:
    """``lines[start:end]`` matched; ``pairs`` aligns (search line, code line) non-blank pairs."""

    start: int
    end: int
    level: str
    pairs: tuple[tuple[str, str], ...]


def _indent_width(line: str) -> int:
    indent = line[: len(line) - len(line.lstrip(" \t"))]
    return len(indent.expandtabs(4))


def find_line_match(
    lines: list[str], search: list[str], levels: tuple[str, ...] = LEVELS
) -> LineMatch | None:
    """First match of ``search`` in ``lines`` at the strictest of ``levels`` that has one."""
    n, m = len(lines), len(search)
    if m == 0 or not any(s.strip() for s in search):
        return None
    # 1. exact
    for i in range(n - m + 1) if "exact" in levels else ():
        if lines[i:i + m] == search:
            return LineMatch(i, i + m, "exact", tuple(zip(search, lines[i:i + m])))
    # 2. indentation / trailing whitespace drift
    stripped = [ln.strip() for ln in lines]
    s_stripped = [s.strip() for s in search]
    for i in range(n - m + 1) if "indentation" in levels else ():
        if stripped[i:i + m] == s_stripped:
            pairs = tuple((s, c) for s, c in zip(search, lines[i:i + m]) if s.strip())
            return LineMatch(i, i + m, "indentation", pairs)
    # 3. blank-line differences: compare the non-blank lines only
    nb_idx = [i for i, s in enumerate(stripped) if s]
    nb = [stripped[i] for i in nb_idx]
    s_nb = [s for s in s_stripped if s]
    s_lines_nb = [s for s in search if s.strip()]
    k = len(s_nb)
    for j in range(len(nb) - k + 1) if "blank lines" in levels else ():
        if nb[j:j + k] == s_nb:
            start, end = nb_idx[j], nb_idx[j + k - 1] + 1
            pairs = tuple(zip(s_lines_nb, (lines[i] for i in nb_idx[j:j + k])))
            return LineMatch(start, end, "blank lines", pairs)
    # 4. a fragment of one line (at least a few characters, so "x" does not match anywhere)
    if "substring" in levels and k == 1 and len(s_nb[0]) >= 4:
        for i, ln in enumerate(lines):
            if s_nb[0] in ln:
                return LineMatch(i, i + 1, "substring", ((s_lines_nb[0], ln),))
    return None


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def reindent(pairs: tuple[tuple[str, str], ...], replace: list[str]) -> list[str]:
    """Give REPLACE lines the indentation the code has where the model's SEARCH had its own.

    A REPLACE line indented exactly like some SEARCH line gets that code line's indentation
    string (so tabs become spaces or back, as the code has them). Other lines shift by the
    width offset learned for the nearest SEARCH indentation width at or below theirs: the
    offset is learned per width because a model often drops the indentation of the first
    copied line only.
    """
    by_string: dict[str, str] = {}
    by_width: dict[int, int] = {}
    tab_style = False
    for s, c in pairs:
        by_string.setdefault(_indent_of(s), _indent_of(c))
        by_width.setdefault(_indent_width(s), _indent_width(c) - _indent_width(s))
        tab_style = tab_style or c.startswith("\t")
    if all(k == v for k, v in by_string.items()):
        return list(replace)
    fallback = Counter(by_width.values()).most_common(1)[0][0]
    widths = sorted(by_width)
    out = []
    for r in replace:
        if not r.strip():
            out.append("")
            continue
        ind = _indent_of(r)
        if ind in by_string:
            out.append(by_string[ind] + r[len(ind):])
            continue
        w = _indent_width(r)
        known = [x for x in widths if x <= w]
        new_w = max(0, w + (by_width[known[-1]] if known else fallback))
        indent = ("\t" * (new_w // 4) + " " * (new_w % 4)) if tab_style else " " * new_w
        out.append(indent + r.lstrip(" \t"))
    return out


def apply_substring(line: str, search: str, replace: str) -> str:
    """The level-4 edit: replace one fragment inside one line."""
    return line.replace(search.strip(), replace.strip(), 1)


def closest_lines(lines: list[str], search: list[str]) -> tuple[int, int, float] | None:
    """``(start, end, ratio)`` of the window of ``lines`` most similar to ``search``."""
    s_nb = [s.strip() for s in search if s.strip()]
    if not s_nb or not lines:
        return None
    target = "\n".join(s_nb)
    width = min(len(s_nb), len(lines))
    best: tuple[int, int, float] | None = None
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    for i in range(len(lines) - width + 1):
        window = "\n".join(ln.strip() for ln in lines[i:i + width])
        matcher.set_seq1(window)
        if best is not None and matcher.real_quick_ratio() <= best[2]:
            continue
        if best is not None and matcher.quick_ratio() <= best[2]:
            continue
        ratio = matcher.ratio()
        if best is None or ratio > best[2]:
            best = (i, i + width, ratio)
    return best
