"""The files of a multi-file program, for the dashboard's file tree and per-file diffs.

Why here and not in the browser: a folder program is stored as one *bundle* text
(`evoforge.bundle`), and splitting it is the bundle module's job — the page must not carry a
second parser of the marker format. So the attempt endpoint hands the page each file already
split, with its status against the parent and its own unified diff; the page only draws.
"""
from __future__ import annotations

from typing import Any

from ..bundle import BundleError, as_files, file_diff, is_bundle, pack

#: A file's state against the parent program.
FILE_STATES = ("modified", "added", "removed", "unchanged", "initial")


def program_files(code: str | None, parent_code: str | None) -> dict[str, Any]:
    """``{"files": [...], "files_error": str|None}`` for a bundle; ``{"files": None, ...}`` otherwise.

    Each file: ``path``, ``text`` (None for a file the parent had and this program removed),
    ``status`` (one of `FILE_STATES`; ``initial`` when there is no parent program to compare
    with), ``changed`` (True for modified, added or removed), ``diff`` (unified diff against the
    parent's file, "" when unchanged) and ``lines``. A bundle that cannot be split (a damaged
    text, a model's bad edit) gives ``files: None`` and the reason in ``files_error``, so the
    page still shows the raw code.
    """
    if not is_bundle(code):
        return {"files": None, "files_error": None}
    try:
        mine = as_files(code or "")
    except BundleError as exc:
        return {"files": None, "files_error": str(exc)}
    theirs: dict[str, str] | None = None
    if parent_code is not None:
        try:
            theirs = as_files(parent_code)
        except BundleError:
            theirs = None  # a parent that cannot be split: show this program's files as initial
    paths = sorted(set(mine) | set(theirs or {}))
    files = []
    for path in paths:
        new, old = mine.get(path), (theirs or {}).get(path)
        if theirs is None:
            state = "initial"
        elif old is None:
            state = "added"
        elif new is None:
            state = "removed"
        else:
            state = "unchanged" if old == new else "modified"
        diff = "" if state in ("initial", "unchanged") else _one_file_diff(path, mine, theirs or {})
        files.append({"path": path, "text": new, "status": state, "changed": state in ("modified", "added", "removed"),
                      "diff": diff, "lines": (new or "").count("\n") + (1 if new and not new.endswith("\n") else 0)})
    return {"files": files, "files_error": None}


def _one_file_diff(path: str, mine: dict[str, str], theirs: dict[str, str]) -> str:
    """The diff of one file, in `file_diff`'s own format (``/dev/null`` for an added or removed
    file): two programs that differ only in `path`, every other file the same on both sides,
    so `file_diff` writes exactly that file's section."""
    base = {**mine, **theirs}
    base.pop(path, None)
    old, new = dict(base), dict(base)
    if path in theirs:
        old[path] = theirs[path]
    if path in mine:
        new[path] = mine[path]
    try:
        return file_diff(pack(old), pack(new))
    except BundleError:  # a side with no file at all cannot be packed; nothing to compare it with
        return ""
