"""The "tweak" edit: the model picks one line of an EVOLVE-BLOCK that holds numbers and writes
new numbers for it; everything else on the line stays as it is.

Why: a 135M-parameter model cannot reliably write new code, but it can choose which constant
matters and propose a value (more iterations, a larger radius...). Under a grammar the reply can
only be such an edit, so every tweak applies and parses; the model spends its tokens on the one
decision it is able to make. Hosted models get the same request as plain instructions.
"""
from __future__ import annotations

import re

from evoforge.bundle import is_bundle
from evoforge.mutate.blocks import find_blocks
from evoforge.mutate.files import FILE_LINE, program_files
from evoforge.mutate.grammar import gbnf_literal

__all__ = ["NUMBER", "numeric_lines", "numeric_lines_by_file", "tweak_grammar"]

# a numeric literal not glued to a name or another number (x2, 1.5e3's exponent, a.b)
NUMBER = re.compile(r"(?<![\w.])(\d+\.\d*|\.\d+|\d+)(?![\w.])")
_COMMENT = re.compile(r"^\s*(#|//)")


def numeric_lines(code: str) -> list[str]:
    """Distinct non-comment lines inside the blocks that contain at least one numeric literal
    (for a folder program: inside the blocks of its editable files)."""
    if is_bundle(code):
        lines = [line for _, file_lines in numeric_lines_by_file(code) for line in file_lines]
        return list(dict.fromkeys(lines))
    seen: dict[str, None] = {}
    for block in find_blocks(code):
        for line in block.text.splitlines():
            if line.strip() and not _COMMENT.match(line) and NUMBER.search(line) and len(line) <= 160:
                seen.setdefault(line, None)
    return list(seen)


_DIGITS = "0123456789"


def _free(shape: str) -> str:
    """GBNF for any number with the shape of `shape` (digits where it has digits, '.' kept).
    An integer of several digits cannot start with 0: Python rejects ``01`` (a float's ``01.5``
    is fine)."""
    parts = ['"."' if ch == "." else "[0-9]" for ch in shape]
    if "." not in shape and len(shape) > 1:
        parts[0] = "[1-9]"
    return " ".join(parts)


def _other_number(value: str) -> str:
    """GBNF for a numeric literal of the same kind (int or float) that differs from `value`:
    the same shape differing at some digit, or another shape (up to 4 integer and 5 decimal digits)."""
    alts = []
    for i, ch in enumerate(value):
        if ch == ".":
            continue
        others = "".join(d for d in _DIGITS if d != ch
                         and not (d == "0" and i == 0 and "." not in value and len(value) > 1))
        head = gbnf_literal(value[:i]) + " " if i else ""
        tail = " " + _free(value[i + 1:]) if value[i + 1:] else ""
        alts.append(f"{head}[{others}]{tail}")
    if "." in value:
        a, b = len(value.split(".")[0]), len(value.split(".")[1])
        shapes = [(x, y) for x in range(1, 5) for y in range(1, 6) if (x, y) != (a, b)]
        alts += [_free("9" * x + "." + "9" * y) for x, y in shapes]
    else:
        alts += [_free("9" * x) for x in range(1, 7) if x != len(value)]
    return "(" + " | ".join(f"({a})" for a in alts) + ")"


def _template(line: str) -> str:
    """GBNF for `line` with new numbers: every number may change, at least one must."""
    pieces: list[tuple[str, str]] = []   # (literal text before the number, number)
    pos = 0
    for m in NUMBER.finditer(line):
        pieces.append((line[pos:m.start()], m.group(0)))
        pos = m.end()
    tail = line[pos:]

    def lit(text: str) -> str:
        return gbnf_literal(text) + " " if text else ""

    alternatives = []
    for k in range(len(pieces)):  # the k-th number is the first that changes
        seq = ""
        for i, (before, number) in enumerate(pieces):
            if i < k:
                seq += lit(before + number)
            elif i == k:
                seq += lit(before) + _other_number(number) + " "
            else:
                seq += lit(before) + ("flt" if "." in number else "int") + " "
        alternatives.append(seq + (gbnf_literal(tail) if tail else ""))
    return "(" + " | ".join(f"({a.strip()})" for a in alternatives) + ")"


def numeric_lines_by_file(code: str) -> list[tuple[str, list[str]]]:
    """``(path, numeric lines)`` of each editable file of folder program `code` that has some."""
    out = []
    for f in program_files(code):
        if f.editable:
            lines = numeric_lines(f.text)
            if lines:
                out.append((f.path, lines))
    return out


def _bundle_tweak_grammar(parent_code: str, max_lines: int, exclude: set[str] | frozenset[str]) -> str | None:
    """The tweak grammar of a folder program: ``FILE: path`` then a tweak of one of that file's
    numeric lines. Lines in `exclude` are left out while others remain anywhere, so files drop
    out once their lines are tweaked, as lines do; `max_lines` is shared out file by file."""
    by_file = numeric_lines_by_file(parent_code)
    fresh = [(p, [ln for ln in lines if ln not in exclude]) for p, lines in by_file]
    if any(lines for _, lines in fresh):
        by_file = [(p, lines) for p, lines in fresh if lines]
    chosen: dict[str, list[str]] = {p: [] for p, _ in by_file}
    queues = [(p, list(lines)) for p, lines in by_file]
    while sum(map(len, chosen.values())) < max_lines and any(q for _, q in queues):
        for path, queue in queues:  # round robin, so a long file cannot crowd the others out
            if queue and sum(map(len, chosen.values())) < max_lines:
                chosen[path].append(queue.pop(0))
    files = [(p, lines) for p, lines in chosen.items() if lines]
    if not files:
        return None
    alternatives = [f"{gbnf_literal(FILE_LINE.format(path=p) + chr(10) + '<<<<<<< SEARCH' + chr(10))} "
                    f"{_line_alternatives(lines)}" for p, lines in files]
    return _tweak_rules('root ::= (' + " | ".join(f"({a})" for a in alternatives) + ') "\n>>>>>>> REPLACE\n"',
                        "")


def _line_alternatives(lines: list[str]) -> str:
    alternatives = [f"{gbnf_literal(line)} {gbnf_literal(chr(10) + '=======' + chr(10))} {_template(line)}" for line in lines]
    return "(" + " | ".join(f"({a})" for a in alternatives) + ")"


def _tweak_rules(root: str, edit: str) -> str:
    rules = [
        root,
        *([edit] if edit else []),
        'int ::= "0" | [1-9] [0-9]? [0-9]? [0-9]? [0-9]? [0-9]?',  # no leading zeros: 01 is a SyntaxError
        'flt ::= [0-9] [0-9]? [0-9]? [0-9]? "." [0-9] [0-9]? [0-9]? [0-9]? [0-9]?',
    ]
    return "\n".join(rules) + "\n"


def tweak_grammar(parent_code: str, max_lines: int = 40, exclude: set[str] | frozenset[str] = frozenset()) -> str | None:
    """A grammar whose every sentence is a one-line SEARCH/REPLACE that changes at least one
    number and nothing else (None when the blocks hold no numbers). Lines in `exclude` (already
    tweaked from this parent) are left out while others remain, so repeated asks explore. A
    folder program's edit starts with the ``FILE: path`` line of the file it tweaks."""
    if is_bundle(parent_code):
        return _bundle_tweak_grammar(parent_code, max_lines, exclude)
    lines = numeric_lines(parent_code)
    lines = ([line for line in lines if line not in exclude] or lines)[:max_lines]
    if not lines:
        return None
    alternatives = [f"{gbnf_literal(line)} {gbnf_literal(chr(10) + '=======' + chr(10))} {_template(line)}" for line in lines]
    return _tweak_rules('root ::= "<<<<<<< SEARCH\\n" edit "\\n>>>>>>> REPLACE\\n"',
                        "edit ::= " + " | ".join(f"({a})" for a in alternatives))
