"""Zero-cost operators on a folder program: one file at a time, in that file's language.

An operator picks an editable file at random (the `random.Random` given, so the same seed gives
the same child), runs the single-file operator on it in the language of its extension, and tries
the next file when that one offers nothing to change: files rotate the way lines already do.
Frozen files and marker lines are never touched (the single-file operators only change lines
inside blocks, and frozen files are never handed to them). Crossover mixes whole files' blocks
between the parents when several files differ, else splices the one file that differs.
"""
from __future__ import annotations

import random
from collections.abc import Callable

from evoforge.bundle import BundleError, language_of, pack, unpack
from evoforge.errors import TaskError
from evoforge.mutate.blocks import find_blocks, outside_blocks_equal, replace_blocks
from evoforge.mutate.edits import check_syntax
from evoforge.mutate.files import is_editable

__all__ = ["bundle_crossover", "bundle_operator", "per_file"]

_TRIES = 8


def _files(code: str | None) -> dict[str, str] | None:
    if code is None:
        return None
    try:
        return unpack(code)
    except BundleError:
        return None


def _repacked(files: dict[str, str], changes: dict[str, str]) -> str | None:
    try:
        return pack({**files, **changes})
    except BundleError:
        return None


def per_file(code: str, rng: random.Random, change: Callable[[str, str], str | None]) -> str | None:
    """Bundle `code` with one editable file changed by ``change(text, language)``: files are tried
    in an order drawn from `rng` until one changes (None when none does). Each file is read in the
    language of its extension (`bundle.language_of`), not the task's: a folder may mix languages."""
    files = _files(code)
    if files is None:
        return None
    order = [p for p, t in files.items() if is_editable(t)]
    rng.shuffle(order)
    for path in order:
        new = change(files[path], language_of(path))
        if new is not None and new != files[path]:
            child = _repacked(files, {path: new})
            if child is not None:
                return child
    return None


def bundle_operator(name: str, code: str, rng: random.Random, language: str = "python") -> str | None:
    """Run single-file operator `name` on one editable file of bundle `code` (`per_file`); None
    when no file offers a change. `language` (the task's) is not used: files have their own."""
    from evoforge.mutate.operators import apply_operator

    return per_file(code, rng, lambda text, lang: apply_operator(name, text, rng, language=lang))


def _take(a: str, b: str) -> str | None:
    """File text `b`'s blocks in file `a` (which keeps its outside), or None when they do not fit."""
    if outside_blocks_equal(a, b):
        return b
    try:
        blocks_a, blocks_b = find_blocks(a), find_blocks(b)
    except TaskError:
        return None
    return replace_blocks(a, [x.text for x in blocks_b]) if len(blocks_a) == len(blocks_b) else None


def bundle_crossover(code_a: str, code_b: str | None, rng: random.Random, language: str = "python") -> str | None:
    """A child of two folder programs with the same files; frozen files and every outside text
    come from `code_a`. Several differing files: each from a or b (both contribute). One: the
    single-file block crossover on that file. Files are read by extension, as in `bundle_operator`."""
    from evoforge.mutate.operators import crossover_blocks

    files_a, files_b = _files(code_a), _files(code_b)
    if files_a is None or files_b is None or set(files_a) != set(files_b):
        return None
    taken = {p: _take(files_a[p], files_b[p]) for p, t in files_a.items()
             if is_editable(t) and files_b[p] != t}
    differ = sorted(p for p, t in taken.items() if t is not None and t != files_a[p])
    for _ in range(_TRIES if len(differ) > 1 else 0):
        pick = [p for p in differ if rng.random() < 0.5]
        if 0 < len(pick) < len(differ) and all(check_syntax(taken[p], language_of(p)) is None for p in pick):
            child = _repacked(files_a, {p: taken[p] for p in pick})  # type: ignore[misc]
            if child is not None:
                return child
    if not differ:
        return None
    path = rng.choice(differ)
    new = crossover_blocks(files_a[path], taken[path], rng, language_of(path))  # type: ignore[arg-type]
    return _repacked(files_a, {path: new}) if new is not None and new != files_a[path] else None
