"""Model replies applied to a folder program: each edit, each rewrite, goes to the file it names.

The reply format, as the prompts teach it (`evoforge.mutate.prompts`) and as strong models write
it unprompted (aider's layout)::

    FILE: solver/heuristic.py
    <<<<<<< SEARCH
        return a * 2
    =======
        return a * 3
    >>>>>>> REPLACE

A name holds for the edits after it until another one (`evoforge.mutate.files.file_line_name`
reads the spellings). An edit that names no file goes to the only editable file, or else to the
one file whose blocks its SEARCH matches (at the strictest level any file matches: an exact copy
in one file beats a loose match in another); a SEARCH matching equally in two files is refused as
ambiguous. A full rewrite is one code block per file, each after its file's name. Every failure
names the edit and the file, so it can be fed back to the model for its one retry.
"""
from __future__ import annotations

import difflib
import re

from evoforge.bundle import MARKER_PREFIX
from evoforge.mutate.blocks import find_blocks, outside_blocks_equal
from evoforge.mutate.edits import apply_one, edit_label, parse_edits, rewrite_worthy
from evoforge.mutate.files import (
    file_line_name,
    is_editable,
    known_paths,
    program_files,
    repack,
    resolve_file,
)
from evoforge.mutate.kinds import REWRITE_APPLY_MODES
from evoforge.mutate.match import LEVELS, closest_lines, find_line_match
from evoforge.mutate.result import EditError, EditResult
from evoforge.mutate.rewrite import extract_full_rewrite

__all__ = ["apply_file_edits", "dispatch_bundle_reply", "extract_bundle_rewrite", "rewrite_files"]

NAME_THE_FILE = "start the edit with a line FILE: path naming the file"
_FENCE_OPEN = re.compile(r"^\s*```[^`]*$")
_FENCE_CLOSE = re.compile(r"^\s*```\s*$")


def _file_for(files: dict[str, str], editable: list[str], label: str, search: str, replace: str) -> str:
    """The editable file an edit that names no file is meant for (see the module docstring)."""
    if len(editable) == 1:
        return editable[0]
    hits: dict[str, int] = {}
    for path in editable:
        try:
            _, level = apply_one(files[path], label, search, replace)
        except EditError:
            continue
        hits[path] = LEVELS.index(level)
    if hits:
        best = min(hits.values())
        top = [p for p, level in hits.items() if level == best]
        if len(top) == 1:
            return top[0]
        raise EditError(f"{label}: SEARCH matches in {' and '.join(top)} alike; {NAME_THE_FILE}")
    s_lines = search.split("\n")
    for path, text in files.items():
        if path not in editable:
            found = find_line_match([ln.rstrip("\r") for ln in text.split("\n")], s_lines, LEVELS[:-1])
            if found is not None:
                raise EditError(f"{label}: SEARCH matches {path}, which is read-only (it has no EVOLVE-BLOCK); "
                                f"files you may edit: {', '.join(editable)}")
    scored = []
    for path in editable:  # not found: the file holding the closest lines gives the reason
        for block in find_blocks(files[path]):
            found = closest_lines(block.lines, s_lines)
            if found is not None:
                scored.append((found[2], path))
    return max(scored)[1] if scored else editable[0]


def _elsewhere(files: dict[str, str], editable: list[str], named: str, label: str, search: str, replace: str) -> str:
    """A hint for an edit whose SEARCH is not in the file it names but is in another one."""
    others = []
    for path in editable:
        if path != named:
            try:
                apply_one(files[path], label, search, replace)
            except EditError:
                continue
            others.append(path)
    return f" (that SEARCH is in {' and '.join(others)}: name that file)" if others else ""


def apply_file_edits(code: str, edits: list[tuple[str | None, str, str]]) -> EditResult:
    """Apply ``(file or None, search, replace)`` edits to bundle `code`, in order, each inside the
    blocks of its file; raises `EditError` naming the edit (and file) that cannot apply."""
    if not edits:
        raise EditError("no SEARCH/REPLACE edit found")
    current = {f.path: f.text for f in program_files(code)}
    editable = [p for p, t in current.items() if is_editable(t)]
    notes: list[str] = []
    touched: list[str] = []
    for number, (name, search, replace) in enumerate(edits, start=1):
        label = edit_label(number, len(edits))
        if name is not None:
            path, note = resolve_file(name, current, label)
            if note:
                notes.append(note)
        else:
            path = _file_for(current, editable, label, search, replace)
        try:
            new, level = apply_one(current[path], f"{label} ({path})", search, replace)
        except EditError as exc:
            raise EditError(str(exc) + _elsewhere(current, editable, path, label, search, replace)) from None
        repack(code, {path: new}, f"{label} ({path})")  # a REPLACE line that reads as a file marker
        current[path] = new
        touched += [path] if path not in touched else []
        if level != "exact":
            notes.append(f"edit {number} matched ignoring {level}" if level != "substring"
                         else f"edit {number} matched part of one line")
    child = repack(code, current)
    if not outside_blocks_equal(code, child):
        raise EditError("the edits would change code outside the EVOLVE-BLOCKs or a read-only file")
    if child == code:
        raise EditError("the edits leave the program unchanged; REPLACE must differ from SEARCH")
    reason = f"applied {len(edits)} edit{'s' if len(edits) != 1 else ''} to {', '.join(touched)}"
    if notes:
        reason += " (" + "; ".join(notes) + ")"
    return EditResult(child, True, reason, len(edits), notes)


def _pieces(text: str, known: frozenset[str]) -> list[tuple[str | None, str]]:
    """``(file named or None, code)`` for each code block of a rewrite reply, in order.

    The name comes from the fence's info string or the last file line before the fence. A reply
    that echoes the bundle's own file marker lines, or has no fence at all, is cut at its file
    lines instead (the text after each goes to that file)."""
    lines = text.split("\n")
    by_marker = any(ln.strip().startswith(MARKER_PREFIX) for ln in lines)
    pieces: list[tuple[str | None, str]] = []
    if not by_marker:
        pending: str | None = None
        body: list[str] | None = None
        fence_name: str | None = None
        for line in lines:
            if body is None:
                if _FENCE_OPEN.match(line):
                    fence_name, pending, body = file_line_name(line, known) or pending, None, []
                else:
                    pending = file_line_name(line, known, fences=False) or pending
            elif _FENCE_CLOSE.match(line):
                pieces.append((fence_name, "```\n" + "\n".join(body) + "\n```"))
                body = None
            else:
                body.append(line)
        if body:
            pieces.append((fence_name, "```\n" + "\n".join(body) + "\n```"))
        if pieces:
            return pieces
    name: str | None = None
    chunk: list[str] = []
    for line in lines + [None]:  # type: ignore[list-item]
        named = file_line_name(line, known, fences=False) if line is not None else None
        if line is None or named is not None:
            if "\n".join(chunk).strip() and (name is not None or not by_marker):
                pieces.append((name, "\n".join(chunk)))
            name, chunk = named, []
        else:
            chunk.append(line)
    return pieces


def _by_content(piece: str, files: dict[str, str], editable: list[str]) -> str:
    """The editable file an unnamed code block rewrites: clearly the most similar one."""
    if len(editable) == 1:
        return editable[0]
    got = [ln.strip() for ln in piece.split("\n") if ln.strip()]
    ratios = sorted(((difflib.SequenceMatcher(None, [ln.strip() for ln in files[p].split("\n") if ln.strip()],
                                              got, autojunk=False).ratio(), p) for p in editable), reverse=True)
    if ratios[0][0] >= 0.5 and ratios[0][0] - ratios[1][0] >= 0.1:
        return ratios[0][1]
    raise EditError(f"the reply rewrites code but names no file; write a line FILE: path before each file's "
                    f"code block (files you may edit: {', '.join(editable)})")


def rewrite_files(text: str, parent_code: str) -> tuple[str, list[str], list[str]]:
    """The child of a rewrite reply to bundle `parent_code`, the paths it changed and notes.

    Each named code block rewrites that file's blocks (as `extract_full_rewrite` does for one
    file); files not named are unchanged. A frozen file named with its own text is skipped (a
    model that echoes the whole folder), with a change it is refused."""
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise EditError("empty reply")
    files = {f.path: f.text for f in program_files(parent_code)}
    editable = [p for p, t in files.items() if is_editable(t)]
    pieces = _pieces(text, known_paths(parent_code))
    notes: list[str] = []
    named = [(n, c) for n, c in pieces if n is not None]
    if named:
        if len(named) < len(pieces):
            notes.append(f"ignored {len(pieces) - len(named)} code block(s) that name no file")
    elif pieces:
        largest = max((c for _, c in pieces), key=len)
        path = _by_content(largest, files, editable)
        named = [(path, largest)]
        if len(editable) > 1:
            notes.append(f"the rewrite names no file; its code is most like {path}")
    changes: dict[str, str] = {}
    for name, piece in named:
        bare = name.strip().strip("`'\"").removeprefix("./")
        if bare in files and bare not in editable:
            inner = "\n".join(ln for ln in piece.split("\n") if not ln.strip().startswith("```"))
            if inner.strip() == files[bare].strip():
                continue  # a frozen file echoed as it is
        path, note = resolve_file(name, files, "Rewrite")
        if note:
            notes.append(note)
        if path in changes:
            notes.append(f"{path} was written twice; the last one is used")
        try:
            changes[path] = extract_full_rewrite(piece, files[path], allow_unchanged=True)
        except EditError as exc:
            raise EditError(f"{path}: {exc}") from None
    changes = {p: t for p, t in changes.items() if t != files[p]}
    if not changes:
        raise EditError("the rewrite is identical to the current program; change something")
    child = repack(parent_code, changes, "the rewrite")
    if not outside_blocks_equal(parent_code, child):
        raise EditError("the rewrite would change code outside the EVOLVE-BLOCKs or a read-only file")
    return child, sorted(changes), notes


def extract_bundle_rewrite(text: str, parent_code: str) -> str:
    """`extract_full_rewrite` for a folder program: the child code only."""
    return rewrite_files(text, parent_code)[0]


def dispatch_bundle_reply(parent_code: str, reply: str, mode: str) -> EditResult:
    """`evoforge.mutate.edits.apply_reply` for a folder program (same modes, same fallbacks)."""
    edits = parse_edits(reply, known_paths(parent_code))
    try:
        if edits:
            return apply_file_edits(parent_code, edits)
        if mode != "diff" or rewrite_worthy(parent_code, reply):
            child, paths, notes = rewrite_files(reply, parent_code)
            result = EditResult(child, True, f"full rewrite of {', '.join(paths)}", 1, notes)
            if mode not in REWRITE_APPLY_MODES:
                result.notes.append("no SEARCH/REPLACE edit; used the reply's code as a rewrite")
            return result
    except EditError as exc:
        return EditResult.failed(str(exc), len(edits))
    return EditResult.failed(
        "no SEARCH/REPLACE edit found; write FILE: path, then <<<<<<< SEARCH, the old lines, =======, "
        "the new lines, >>>>>>> REPLACE"
    )
