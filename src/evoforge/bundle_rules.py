"""What a folder program (a bundle, `evoforge.bundle`) must keep, checked in one place.

Why a module of its own: the same three rules hold when a task is loaded and for every child a
proposal produces, whoever produced it (a model's edit, a zero-cost operator, a crossover):

- In a folder, a file without EVOLVE-BLOCK markers is *frozen*: it must stay byte-identical.
  (A single-file program without markers is one whole-file block, as `mutate.blocks` says; in a
  folder that reading would make every harness file evolvable, so there it means frozen.)
- The set of files is fixed: no file added, none removed (a new path could shadow a module the
  evaluator relies on; a path outside the folder is refused by `bundle.check_path` already).
- In a file with blocks, the text outside the blocks is byte-identical (as for a single file).

Each file is checked in its own language (by extension: `bundle.language_of`), so a Python
syntax error is reported as ``path:line``.
"""
from __future__ import annotations

from collections.abc import Mapping

from .bundle import BundleError, is_bundle, language_of, unpack
from .errors import TaskError
from .mutate.blocks import END, START, find_blocks, marker_kind, outside_blocks_equal, split_lines
from .mutate.edits import check_syntax


def has_blocks(text: str) -> bool:
    """True when the file holds at least one EVOLVE-BLOCK marker line."""
    return any(marker_kind(line) is not None for line in split_lines(text))


def evolvable_files(files: Mapping[str, str]) -> list[str]:
    """Paths of the files that hold EVOLVE-BLOCKs (the others are frozen)."""
    return [path for path, text in files.items() if has_blocks(text)]


def check_folder_program(files: Mapping[str, str], where: str) -> None:
    """Raise TaskError unless a folder program can be evolved: balanced markers in every file,
    every Python file parses (the error names ``file:line``), and at least one file has a block."""
    for path, text in files.items():
        try:
            find_blocks(text)
        except TaskError as exc:
            raise TaskError(f"{where}/{path}: {exc}") from None
        if language_of(path) == "python":
            error = check_syntax(text, "python")
            if error is not None:
                raise TaskError(f"{where}/{path}:{error.removeprefix('line ')} (the initial program does not parse)")
    if not evolvable_files(files):
        raise TaskError(f"{where}: no file of the program folder has an {START} / {END} block; mark the code "
                        "evolution may change (files without blocks stay byte-identical)")


def child_violation(parent: str, child: str) -> str | None:
    """Why `child` may not replace folder program `parent` (None when it may).

    Checked: the child is a well-formed bundle with the same files; frozen files byte-identical;
    outside-block text of each evolvable file identical."""
    try:
        before, after = unpack(parent), unpack(child)
    except BundleError as exc:
        return f"the edited program is not a well-formed folder program: {exc}"
    added = sorted(set(after) - set(before))
    removed = sorted(set(before) - set(after))
    if added:
        return f"the edit adds file(s) {', '.join(added)}: a folder program keeps its files"
    if removed:
        return f"the edit removes file(s) {', '.join(removed)}: a folder program keeps its files"
    for path, old in before.items():
        new = after[path]
        if new == old:
            continue
        if not has_blocks(old):
            return f"the edit changes {path}, which has no EVOLVE-BLOCK (frozen: it must stay byte-identical)"
        if not outside_blocks_equal(old, new):
            return f"the edit changes {path} outside its EVOLVE-BLOCKs (that text must stay byte-identical)"
    return None


def syntax_error(code: str, language: str) -> str | None:
    """`mutate.edits.check_syntax` for any program: a bundle is checked file by file, each in the
    language of its extension (`language` for a single file); the message names the file."""
    if not is_bundle(code):
        return check_syntax(code, language)
    try:
        files = unpack(code)
    except BundleError as exc:
        return str(exc)
    for path, text in files.items():
        error = check_syntax(text, language_of(path))
        if error is not None:
            return f"{path} {error}"
    return None
