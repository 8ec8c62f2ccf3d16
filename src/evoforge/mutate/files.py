"""The files of a folder program, as every edit path sees them.

A folder program is one bundle text (`evoforge.bundle`). The edit paths (SEARCH/REPLACE, full
rewrites, grammars, schemas, tweaks, operators, prompts) all need the same three things from it,
so they live here once:

- the files with what may change in each: a file with EVOLVE-BLOCK markers is *editable* (only
  inside its blocks), a file without them is *frozen* (`evoforge.bundle_rules` is the home of
  that rule; its `has_blocks` is used here);
- the file a model's edit names, read from the lines a model naturally writes before an edit
  (``FILE: path``, ``### path``, a bare path line as in aider's format, the path on a fence's
  info string, an echoed bundle marker line), and checked: a path outside the folder, an unknown
  file or a frozen one is an `EditError` with the reason, never a silent skip;
- a child repacked after one or more files changed.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from evoforge.bundle import (
    LANGUAGES,
    MARKER_PREFIX,
    MARKER_SUFFIX,
    NO_FINAL_NEWLINE,
    BundleError,
    check_path,
    is_bundle,
    language_of,
    pack,
    unpack,
)
from evoforge.mutate.result import EditError

__all__ = ["ProgramFile", "file_line_name", "is_editable", "program_files", "repack", "resolve_file"]

#: The line that names an edit's file, as the prompts ask for it.
FILE_LINE = "FILE: {path}"

# ``FILE: path`` and its decorated spellings: "**File:** `a.py`", "# Path: a.py", "File: a.py (editable)";
# a colon, not "=": ``path = "data.txt"`` is code, not a file name
_NAMED = re.compile(
    r"^\s*(?:[#>*-]+\s*)?(?:\*\*|__)?(?:file|path|filename|file name)(?:\*\*|__)?\s*:\s*(?:\*\*|__)?\s*"
    r"[`'\"]?(?P<path>[^\s`'\"*]+)[`'\"]?\s*(?:\*\*|__)?\s*(?:\([^)]*\))?\s*:?\s*$", re.IGNORECASE)
# a fence whose info string holds a path: ```solver/a.py, ```python solver/a.py, ```py:solver/a.py
_FENCE_PATH = re.compile(r"^\s*```\s*(?:[\w+#-]+(?:\s+|:))?(?P<path>[^\s`:]*[./][^\s`]*)\s*$")
# a line that is only a path (aider's format), maybe as a heading, in bold or in backticks
_BARE = re.compile(r"^\s*(?:#+\s*)?(?:\*\*|`)?(?P<path>[\w.\-]*[\w\-](?:/[\w.\-]+)*|\.{1,2}/[\w.\-/]+)(?:\*\*|`)?:?\s*$")
_SEARCH_PATH = re.compile(r"^\s*<{3,}\s*SEARCH\s+[`'\"]?(?P<path>[^\s`'\"]*[./][^\s`'\"]*)[`'\"]?\s*$", re.IGNORECASE)
_TEXT_EXTENSIONS = frozenset(LANGUAGES) | {".txt", ".json", ".yaml", ".yml", ".toml", ".cfg", ".ini", ".md", ".csv"}


@dataclass(frozen=True)
class ProgramFile:
    """One file of a folder program: its path, text, whether edits may touch it, its language."""

    path: str
    text: str
    editable: bool
    language: str


def is_editable(text: str) -> bool:
    """A file of a folder program may change (inside its blocks) when it has EVOLVE-BLOCK markers."""
    from evoforge.bundle_rules import has_blocks  # lazy: bundle_rules imports evoforge.mutate

    return has_blocks(text)


def program_files(code: str) -> list[ProgramFile]:
    """The files of bundle `code` in path order; `EditError` when the bundle is damaged."""
    try:
        files = unpack(code)
    except BundleError as exc:
        raise EditError(f"the program is not a well-formed folder program: {exc}") from exc
    return [ProgramFile(p, t, is_editable(t), language_of(p)) for p, t in files.items()]


def repack(code: str, changes: Mapping[str, str], label: str = "the edit") -> str:
    """Bundle `code` with the files in `changes` replaced; `EditError` when a new text cannot be
    packed (e.g. it holds a line that reads as a file marker, which would split the file)."""
    try:
        files = unpack(code)
        files.update(changes)
        return pack(files)
    except BundleError as exc:
        raise EditError(f"{label}: {exc}") from exc


def _bundle_marker_path(line: str) -> str | None:
    s = line.strip()
    if not (s.startswith(MARKER_PREFIX) and s.endswith(MARKER_SUFFIX)):
        return None
    inner = s[len(MARKER_PREFIX):-len(MARKER_SUFFIX)]
    return inner.removesuffix(NO_FINAL_NEWLINE).strip() or None


def _looks_like_path(token: str, known: frozenset[str]) -> bool:
    if token in known or any(PurePosixPath(k).name == token for k in known):
        return True
    if "/" in token or token.startswith(".."):
        return True
    return PurePosixPath(token).suffix.lower() in _TEXT_EXTENSIONS and not re.fullmatch(r"[\d.]+", token)


def file_line_name(line: str, known: frozenset[str] = frozenset(), *, fences: bool = True) -> str | None:
    """The file a line outside an edit names, or None when it names none.

    `known` (the program's paths) lets a bare line name a file without a folder or a known
    extension; `fences`: whether a fence's info string may name it (```solver/a.py).
    """
    marker = _bundle_marker_path(line)
    if marker is not None:
        return marker
    for pattern in (_NAMED, _SEARCH_PATH) + ((_FENCE_PATH,) if fences else ()):
        m = pattern.match(line)
        if m:
            return m.group("path")
    m = _BARE.match(line)
    if m and _looks_like_path(m.group("path"), known):
        return m.group("path")
    return None


def resolve_file(name: str, files: Mapping[str, str], label: str) -> tuple[str, str | None]:
    """The path of the editable file `name` names, and a note when it was matched loosely.

    Accepted: the path itself, with a leading ``./``, or a file name that exactly one file has.
    Raises `EditError` for a path outside the folder, an unknown file or a frozen one.
    """
    raw = name.strip().strip("`'\"")
    path = raw[2:] if raw.startswith("./") else raw
    try:
        check_path(path)
    except BundleError as exc:
        raise EditError(f"{label}: FILE {raw!r} is not a file of the program folder ({exc})") from None
    editable = [p for p, t in files.items() if is_editable(t)]
    note = None
    if path not in files:
        same_name = [p for p in files if PurePosixPath(p).name == path]
        if len(same_name) != 1:
            close = difflib.get_close_matches(path, editable, n=1)
            hint = f"; did you mean {close[0]}?" if close else ""
            raise EditError(f"{label}: FILE {raw!r} is not a file of the program{hint} "
                            f"(files you may edit: {', '.join(editable)})")
        path, note = same_name[0], f"{label.lower()} named {raw} for {same_name[0]}"
    if path not in editable:
        raise EditError(f"{label}: {path} is read-only (it has no EVOLVE-BLOCK and must stay as it is); "
                        f"files you may edit: {', '.join(editable)}")
    return path, note


def known_paths(code: str) -> frozenset[str]:
    """The paths of bundle `code` (empty for a single file or a damaged bundle)."""
    if not is_bundle(code):
        return frozenset()
    try:
        return frozenset(unpack(code))
    except BundleError:
        return frozenset()
