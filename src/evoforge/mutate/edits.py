"""Turning a model reply into a child program: SEARCH/REPLACE diffs and full rewrites.

The rule that matters: a reply either yields a child whose code outside the EVOLVE-BLOCKs is
byte-identical to the parent's, or it yields a precise reason (never a silent no-op). The
reasons are short and concrete because they are shown to the model for one retry.

Ambiguity policy: when a SEARCH matches several places, the first match inside a block (in
file order) is edited. Small models write short SEARCH texts; refusing them would waste most
of their proposals, and the evaluator judges the result anyway.
"""
from __future__ import annotations

import difflib
import re
import warnings

from evoforge.bundle import file_diff, is_bundle
from evoforge.errors import TaskError
from evoforge.mutate.files import file_line_name, known_paths
from evoforge.mutate.kinds import APPLY_MODES, REWRITE_APPLY_MODES
from evoforge.mutate.blocks import (
    find_blocks,
    marker_kind,
    outside_blocks_equal,
    replace_blocks,
    split_lines,
)
from evoforge.mutate.match import (
    LEVELS,
    apply_substring,
    closest_lines,
    find_line_match,
    reindent,
)
from evoforge.mutate.prompts import is_template_echo
from evoforge.mutate.result import EditError, EditResult
from evoforge.mutate.rewrite import extract_full_rewrite, fenced_blocks

__all__ = [
    "MODES",
    "EditError",
    "EditResult",
    "apply_reply",
    "apply_one",
    "apply_search_replace",
    "check_syntax",
    "edit_label",
    "extract_full_rewrite",
    "parse_edits",
    "parse_search_replace",
    "unified_diff",
]

MODES = APPLY_MODES  # defined with the edit formats, in evoforge.mutate.kinds

_SEARCH_RE = re.compile(r"^\s*<{3,}\s*SEARCH\b", re.IGNORECASE)
_DIVIDER_RE = re.compile(r"^\s*={3,}\s*$")
_REPLACE_RE = re.compile(r"^\s*(>{3,}\s*REPLACE\b.*|>{5,}\s*)$", re.IGNORECASE)
_PARTIAL_END_RE = re.compile(r"^\s*>+\s*(R(E(P(L(A(C(E)?)?)?)?)?)?)?\s*$", re.IGNORECASE)
_FENCE_RE = re.compile(r"^\s*```")


def _trim_fences(lines: list[str]) -> list[str]:
    while lines and _FENCE_RE.match(lines[0]):
        lines = lines[1:]
    while lines and _FENCE_RE.match(lines[-1]):
        lines = lines[:-1]
    return lines


def _trim_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def parse_search_replace(text: str) -> list[tuple[str, str]]:
    """All ``(search, replace)`` pairs in a reply, in order.

    Tolerates code fences around or inside the sections, 3+ marker characters, stray
    whitespace, CRLF, a repeated SEARCH marker, a missing END marker between two edits and a
    reply cut off after the REPLACE text (a truncated final edit is kept; a partial
    ``>>>>`` line is dropped). An edit cut off before its ``=======`` is dropped.
    """
    return [(search, replace) for _, search, replace in parse_edits(text)]


def parse_edits(text: str, known: frozenset[str] = frozenset()) -> list[tuple[str | None, str, str]]:
    """``(file, search, replace)`` for every edit of a reply (see `parse_search_replace`).

    ``file`` is the file named by the last file line before the edit (``FILE: path`` and the
    other spellings `evoforge.mutate.files.file_line_name` reads; `known` are the program's
    paths), None when no line named one. A name holds for the edits after it until another.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    edits: list[tuple[str | None, str, str]] = []
    state = "outside"
    search: list[str] = []
    replace: list[str] = []
    current_file: str | None = None

    def emit() -> None:
        s = _trim_blank(_trim_fences(search))
        r = _trim_fences(replace)
        edits.append((current_file, "\n".join(s), "\n".join(r)))

    for line in lines:
        if _SEARCH_RE.match(line):
            if state == "replace":
                emit()
            named = file_line_name(line, known)
            current_file = named if named is not None else current_file
            state, search, replace = "search", [], []
        elif state == "search":
            if _DIVIDER_RE.match(line):
                state = "replace"
            elif _REPLACE_RE.match(line):
                state = "outside"  # malformed: END marker with no divider; drop it
            else:
                search.append(line)
        elif state == "replace":
            if _REPLACE_RE.match(line):
                emit()
                state = "outside"
            else:
                replace.append(line)
        else:
            named = file_line_name(line, known)
            current_file = named if named is not None else current_file
    if state == "replace":  # truncated reply: keep what was written
        while replace and (_PARTIAL_END_RE.match(replace[-1]) or not replace[-1].strip()):
            replace = replace[:-1]
        emit()
    return edits


def edit_label(number: int, total: int) -> str:
    """How an edit is named in a reason: "Edit 2 of 3" ("Edit 1" when it is the only one)."""
    return f"Edit {number}" if total == 1 else f"Edit {number} of {total}"


def apply_one(code: str, label: str, search: str, replace: str) -> tuple[str, str]:
    """Apply one edit to one file's text, only inside its blocks; returns the new text and the
    match level. `EditError` (its message starts with `label`) when it cannot apply."""
    s_lines = search.split("\n")
    if not search.strip():
        raise EditError(f"{label}: the SEARCH section is empty; copy 1-3 lines to change")
    r_lines = replace.split("\n") if replace else []
    if any(marker_kind(r) for r in r_lines):
        raise EditError(f"{label}: REPLACE contains an EVOLVE-BLOCK marker line; markers cannot "
                        "be added or removed")
    levels = LEVELS if len([r for r in r_lines if r.strip()]) == 1 else LEVELS[:-1]
    blocks = find_blocks(code)
    for level in levels:  # strictest level first, over all blocks, so an exact copy wins
        for block in blocks:
            lines = block.lines
            match = find_line_match(lines, s_lines, (level,))
            if match is None:
                continue
            if level == "substring":
                new = [apply_substring(lines[match.start], search, replace)]
            else:
                new = reindent(match.pairs, r_lines)
            content = lines[: match.start] + new + lines[match.end:]
            newline = "\r\n" if "\r\n" in block.text else "\n"
            text = newline.join(content)
            if content and (block.text.endswith("\n") or block.start_line > 0):
                text += newline
            texts = [b.text for b in blocks]
            texts[block.index] = text
            return replace_blocks(code, texts), level
    # Not inside any block: say whether it exists outside, else show the closest lines.
    all_lines = [ln.rstrip("\r\n") for ln in split_lines(code)]
    outside = find_line_match(all_lines, s_lines)
    if outside is not None and outside.level != "substring":
        where = (f"line {outside.end}" if outside.end - outside.start == 1
                 else f"lines {outside.start + 1}-{outside.end}")
        raise EditError(
            f"{label}: SEARCH matches {where}, which is outside the EVOLVE-BLOCKs; "
            "edits must stay inside EVOLVE-BLOCK-START/END"
        )
    best = None
    for block in blocks:
        found = closest_lines(block.lines, s_lines)
        if found and (best is None or found[2] > best[2]):
            best = (found[0] + block.first_content_line, found[1] + block.first_content_line - 1,
                    found[2], block.lines[found[0]:found[1]])
    msg = f"{label}: SEARCH text not found in the code."
    if best is not None:
        shown = "\n".join(best[3])[:600]
        where = f"line {best[0]}" if best[0] == best[1] else f"lines {best[0]}-{best[1]}"
        msg += f" Closest ({where}):\n{shown}\nSEARCH must copy existing lines exactly."
    raise EditError(msg)


def apply_search_replace(code: str, edits: list[tuple[str, str]]) -> EditResult:
    """Apply edits in order (each sees the previous ones' result), only inside blocks.

    Raises `EditError` naming the failing edit. Every match level but "exact" is recorded in
    ``notes``. An edit set that leaves the program unchanged is an error, not a success.
    """
    if not edits:
        raise EditError("no SEARCH/REPLACE edit found")
    if is_bundle(code):  # a folder program: each edit goes to the one file it matches
        from evoforge.mutate.bundle_edits import apply_file_edits
        return apply_file_edits(code, [(None, search, replace) for search, replace in edits])
    try:
        find_blocks(code)
    except TaskError as exc:
        raise EditError(f"the parent program has broken EVOLVE-BLOCK markers: {exc}") from exc
    current, notes = code, []
    for number, (search, replace) in enumerate(edits, start=1):
        current, level = apply_one(current, edit_label(number, len(edits)), search, replace)
        if level != "exact":
            notes.append(f"edit {number} matched ignoring {level}" if level != "substring"
                         else f"edit {number} matched part of one line")
    try:
        find_blocks(current)
    except TaskError as exc:
        raise EditError(f"the edits break the EVOLVE-BLOCK markers: {exc}") from exc
    if not outside_blocks_equal(code, current):
        raise EditError("the edits would change code outside the EVOLVE-BLOCKs")
    if current == code:
        raise EditError("the edits leave the program unchanged; REPLACE must differ from SEARCH")
    reason = f"applied {len(edits)} edit{'s' if len(edits) != 1 else ''}"
    if notes:
        reason += " (" + "; ".join(notes) + ")"
    return EditResult(current, True, reason, len(edits), notes)


def _full(parent_code: str, reply: str) -> EditResult:
    code = extract_full_rewrite(reply, parent_code)
    return EditResult(code, True, "full rewrite", 1)


def rewrite_worthy(parent_code: str, reply: str) -> bool:
    """Is there a code block big enough to be a rewrite rather than a stray snippet? (For a
    folder program the blocks of all its files count: they are the concatenation's blocks.)"""
    fences = fenced_blocks(reply.replace("\r\n", "\n"))
    if not fences:
        return "EVOLVE-BLOCK-START" in reply
    try:
        block_lines = sum(len([ln for ln in b.lines if ln.strip()]) for b in find_blocks(parent_code))
    except TaskError:
        return False
    code_lines = max(len([ln for ln in f.split("\n") if ln.strip()]) for f in fences)
    return code_lines >= max(2, block_lines // 2)


def apply_reply(parent_code: str, reply: str, mode: str) -> EditResult:
    """Dispatch a reply by mode; never raises for a bad reply (``ok=False`` + reason).

    "diff" and "fix" expect SEARCH/REPLACE edits but fall back to a full rewrite when the
    model answered with a code block at least half the size of the blocks ("fix" always
    tries it). "full" and "crossover" expect the code, but accept SEARCH/REPLACE edits too:
    a useful answer in the wrong format is still a useful answer.
    """
    if mode not in MODES:
        raise ValueError(f"unknown edit mode {mode!r}; expected one of {', '.join(MODES)}")
    if not reply or not reply.strip():
        return EditResult.failed("empty reply")
    result = _dispatch(parent_code, reply, mode)
    if not result.ok and is_template_echo(reply, parent_code):
        result.reason = "the reply copies the prompt's example instead of editing the code; " + result.reason
    return result


def _dispatch(parent_code: str, reply: str, mode: str) -> EditResult:
    if is_bundle(parent_code):
        from evoforge.mutate.bundle_edits import dispatch_bundle_reply
        return dispatch_bundle_reply(parent_code, reply, mode)
    edits = parse_search_replace(reply)
    try:
        if edits:
            return apply_search_replace(parent_code, edits)
        if mode != "diff" or rewrite_worthy(parent_code, reply):  # "fix" always tries the rewrite
            result = _full(parent_code, reply)
            if mode not in REWRITE_APPLY_MODES:
                result.notes.append("no SEARCH/REPLACE edit; used the reply's code as a rewrite")
            return result
    except EditError as exc:
        return EditResult.failed(str(exc), len(edits))
    return EditResult.failed(
        "no SEARCH/REPLACE edit found; write <<<<<<< SEARCH, the old lines, =======, "
        "the new lines, >>>>>>> REPLACE"
    )


_BRACE_LANGS = {"c", "cpp", "c++", "cc", "java", "javascript", "js", "typescript", "ts",
                "rust", "go", "csharp", "c#", "kotlin", "swift"}


def _check_braces(code: str) -> str | None:
    """Bracket balance for C-like code, skipping strings and comments: catches truncation."""
    pairs, stack = {")": "(", "]": "[", "}": "{"}, []
    i, line, n = 0, 1, len(code)
    while i < n:
        ch = code[i]
        if ch == "\n":
            line += 1
        elif code.startswith("//", i):
            j = code.find("\n", i)
            i = n if j < 0 else j
            continue
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            if j < 0:
                return f"line {line}: comment '/*' is never closed"
            line += code.count("\n", i, j)
            i = j + 2
            continue
        elif ch in "\"'":
            j = i + 1
            while j < n and code[j] != ch and code[j] != "\n":
                j += 2 if code[j] == "\\" else 1
            i = j + 1
            continue
        elif ch in "([{":
            stack.append((ch, line))
        elif ch in ")]}":
            if not stack or stack[-1][0] != pairs[ch]:
                return f"line {line}: unmatched '{ch}'"
            stack.pop()
        i += 1
    if stack:
        ch, at = stack[-1]
        return f"line {at}: '{ch}' is never closed"
    return None


def check_syntax(code: str, language: str = "python") -> str | None:
    """None when the code parses, else ``"line N: message: offending text"``.

    Python is compiled to bytecode (never executed). C-like languages get a bracket balance
    check, which is cheap and catches the commonest model failure, a truncated reply. Other
    languages are not checked (None).
    """
    lang = language.lower()
    if lang in ("python", "py", "python3"):
        try:  # compile, not just parse: also catches symbol-table errors ("return" outside a
            with warnings.catch_warnings():  # function, misplaced global); never executed
                warnings.simplefilter("ignore")
                compile(code, "<candidate>", "exec", dont_inherit=True)
        except SyntaxError as exc:
            text = (exc.text or "").strip()
            msg = f"line {exc.lineno}: {exc.msg}"
            return f"{msg}: {text[:120]}" if text else msg
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
            return f"{type(exc).__name__}: {exc}"
        return None
    if lang in _BRACE_LANGS:
        return _check_braces(code)
    return None


def unified_diff(parent: str, child: str) -> str:
    """A unified diff (parent → child) for storage, the dashboard and large-model prompts; for a
    folder program, one section per changed file (`evoforge.bundle.file_diff`)."""
    if is_bundle(parent) or is_bundle(child):
        return file_diff(parent, child)
    lines = difflib.unified_diff(
        parent.splitlines(keepends=True), child.splitlines(keepends=True),
        fromfile="parent", tofile="child",
    )
    return "".join(ln if ln.endswith("\n") else ln + "\n\\ No newline at end of file\n" for ln in lines)
