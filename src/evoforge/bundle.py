"""A program of many files, held as one text: the *bundle*.

Why one text: everything downstream of a proposal — hashing, novelty (on the concatenation),
the lint, storage's ``code`` column, the dashboard — already works on one string per program.
A folder program (``program: src/`` in task.yaml) is therefore packed into a bundle in which
each file is introduced by a marker line, in sorted path order::

    === evoforge-file: solver/heuristic.py ===
    def score(x):
        ...
    === evoforge-file: solver/structure.py ===
    ...

Per-file work (edits that name their file, per-file crossover, per-file diffs, writing the
folder into a sandbox) goes through `unpack` / `pack`, which round-trip byte for byte: a file
that does not end with a newline is marked ``(no final newline)`` on its marker line, and a file
whose text holds a marker line is refused, so the split is never ambiguous. A single-file
program is never a bundle: its code is the file's text, as before.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from .errors import TaskError

MARKER_PREFIX = "=== evoforge-file: "
MARKER_SUFFIX = " ==="
NO_FINAL_NEWLINE = " (no final newline)"
_MARKER_RE = re.compile(r"^=== evoforge-file: (?P<path>.+?)(?P<nonl> \(no final newline\))? ===\r?$")

#: Defaults for a folder program; task.yaml may lower or raise them (`program_limits`).
DEFAULT_MAX_FILES = 64
DEFAULT_MAX_BYTES = 1_000_000

#: The language of a file, by its extension (lower case); other files are "text" (not checked).
LANGUAGES = {".py": "python", ".c": "c", ".h": "c", ".cpp": "cpp", ".cc": "cpp", ".hpp": "cpp", ".rs": "rust",
             ".js": "javascript", ".ts": "typescript", ".java": "java", ".sh": "shell", ".red": "redcode",
             ".go": "go"}

#: Folder entries skipped when a program folder is read (caches and editor/OS litter).
SKIPPED_NAMES = frozenset({"__pycache__", ".git", ".hg", ".svn", ".DS_Store", ".mypy_cache", ".pytest_cache"})


class BundleError(TaskError):
    """A folder program or a bundle text that cannot be used, with the reason."""


def is_bundle(code: str | None) -> bool:
    """True when `code` is a packed folder program (its first line is a file marker)."""
    if not code or not code.startswith(MARKER_PREFIX):
        return False
    return _MARKER_RE.match(code.split("\n", 1)[0]) is not None


def language_of(path: str, default: str = "text") -> str:
    """The language of a program file, by its extension (`LANGUAGES`), else `default`."""
    return LANGUAGES.get(PurePosixPath(path).suffix.lower(), default)


def module_file(module: str, files: "Mapping[str, str] | list[str]") -> str | None:
    """The file of Python module `module` in a folder program (``a.b`` is ``a/b.py`` or
    ``a/b/__init__.py``), or None when the folder has neither."""
    base = module.replace(".", "/")
    return next((name for name in (f"{base}.py", f"{base}/__init__.py") if name in files), None)


def check_path(path: str) -> str:
    """Return `path` if it is a safe relative POSIX path inside the program folder; raise otherwise.

    Refused: absolute paths, ``..`` or empty components, backslashes, control characters and
    a trailing ``/`` — anything that could name a file outside the folder or differ by platform.
    """
    if not path or path != path.strip():
        raise BundleError(f"file path {path!r}: empty or padded with spaces")
    if "\\" in path or any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise BundleError(f"file path {path!r}: backslashes and control characters are not allowed")
    pure = PurePosixPath(path)
    if pure.is_absolute() or path.startswith("/"):
        raise BundleError(f"file path {path!r}: must be relative to the program folder")
    parts = path.split("/")
    if any(p in ("", ".", "..") for p in parts):
        raise BundleError(f"file path {path!r}: '.', '..' and empty components are not allowed (a file outside the folder)")
    return path


def pack(files: Mapping[str, str]) -> str:
    """Pack ``{relative path: text}`` into a bundle (sorted by path)."""
    if not files:
        raise BundleError("a folder program needs at least one file")
    out: list[str] = []
    for path in sorted(files):
        check_path(path)
        text = files[path]
        if not isinstance(text, str):
            raise BundleError(f"{path}: file content must be text")
        for line in text.split("\n"):
            if line.startswith(MARKER_PREFIX) or _MARKER_RE.match(line):
                raise BundleError(f"{path}: holds a line that looks like a bundle file marker ({line[:60]!r})")
        nonl = bool(text) and not text.endswith("\n")
        out.append(f"{MARKER_PREFIX}{path}{NO_FINAL_NEWLINE if nonl else ''}{MARKER_SUFFIX}\n")
        out.append(text + ("\n" if nonl else ""))
    return "".join(out)


def unpack(code: str) -> dict[str, str]:
    """Split a bundle back into ``{path: text}`` (insertion order = sorted path order).

    Raises `BundleError` for text that is not a bundle, a duplicate or unsafe path, or text
    before the first marker.
    """
    if not is_bundle(code):
        raise BundleError("not a multi-file program (no file marker on the first line)")
    files: dict[str, str] = {}
    path: str | None = None
    nonl = False
    buf: list[str] = []

    def flush() -> None:
        if path is None:
            return
        text = "".join(buf)
        if nonl:
            if not text.endswith("\n"):
                raise BundleError(f"{path}: marked '(no final newline)' but its last line is cut")
            text = text[:-1]
        files[path] = text

    for line in code.splitlines(keepends=True):
        m = _MARKER_RE.match(line.rstrip("\n"))
        if m:
            flush()
            path = check_path(m.group("path"))
            if path in files:
                raise BundleError(f"{path}: appears twice in the program")
            nonl = bool(m.group("nonl"))
            buf = []
        elif path is None:
            raise BundleError("text before the first file marker")
        else:
            buf.append(line)
    flush()
    return files


def as_files(code: str, single_name: str = "program") -> dict[str, str]:
    """``{path: text}`` for any program: a bundle's files, or one file named `single_name`."""
    return unpack(code) if is_bundle(code) else {single_name: code}


def file_diff(old: str, new: str, *, context: int = 3, single_name: str = "program") -> str:
    """A unified diff with one section per changed file (``--- a/path`` / ``+++ b/path``).

    Files added or removed are diffed against nothing; files that did not change produce no
    section, so the diff of an edit to one file of twenty names only that file.
    """
    before, after = as_files(old, single_name), as_files(new, single_name)
    out: list[str] = []
    for path in sorted(set(before) | set(after)):
        a, b = before.get(path), after.get(path)
        if a == b:
            continue
        out.extend(difflib.unified_diff(
            (a or "").splitlines(keepends=True), (b or "").splitlines(keepends=True),
            fromfile=f"a/{path}" if a is not None else "/dev/null",
            tofile=f"b/{path}" if b is not None else "/dev/null", n=context))
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
    return "".join(out)


def changed_files(old: str, new: str) -> list[str]:
    """Paths whose text differs between two programs (added and removed files included)."""
    before, after = as_files(old), as_files(new)
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def read_folder(root: Path, *, max_files: int = DEFAULT_MAX_FILES, max_bytes: int = DEFAULT_MAX_BYTES) -> dict[str, str]:
    """Read a program folder into ``{relative path: text}``, refusing what cannot be evolved.

    Refused with a clear error: a symlink (it could point outside the folder), a binary or
    non-UTF-8 file, more than `max_files` files or `max_bytes` bytes in all, an empty folder.
    Skipped: `SKIPPED_NAMES` (caches, VCS folders).
    """
    root = Path(root)
    if not root.is_dir():
        raise BundleError(f"{root}: not a folder")
    files: dict[str, str] = {}
    total = 0
    for entry in sorted(root.rglob("*")):
        rel = entry.relative_to(root)
        if any(part in SKIPPED_NAMES for part in rel.parts) or entry.suffix == ".pyc":
            continue
        if entry.is_symlink():
            raise BundleError(f"{entry}: symbolic links are not allowed in a program folder (it could point outside it)")
        if entry.is_dir():
            continue
        if not entry.is_file():
            raise BundleError(f"{entry}: not a regular file")
        data = entry.read_bytes()
        total += len(data)
        if len(files) + 1 > max_files:
            raise BundleError(f"{root}: more than {max_files} files (raise program_limits.max_files in task.yaml)")
        if total > max_bytes:
            raise BundleError(f"{root}: more than {max_bytes} bytes in all (raise program_limits.max_bytes in task.yaml)")
        if b"\0" in data:
            raise BundleError(f"{entry}: binary file (a program folder holds only text files)")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise BundleError(f"{entry}: not UTF-8 text (a program folder holds only text files)") from None
        files[rel.as_posix()] = text
    if not files:
        raise BundleError(f"{root}: the program folder holds no files")
    return files


def write_folder(code: str, dest: Path) -> list[Path]:
    """Write a bundle's files under `dest` exactly as laid out; returns the paths written.

    Every path is checked again here (the bundle may come from a model's edit), and each
    resolved path must stay inside `dest`.
    """
    dest = Path(dest)
    base = dest.resolve()
    written: list[Path] = []
    for path, text in unpack(code).items():
        target = (dest / path)
        if base not in target.resolve().parents:
            raise BundleError(f"{path}: would be written outside the program folder")
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(target, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
        written.append(target)
    return written


def write_best(code: str, dest: Path, program_name: str = "initial.py") -> list[Path]:
    """Write a program's files into `dest`, a new or empty folder (nothing is overwritten): a
    bundle as its folder, a one-file program as one file named like the task's program."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BundleError(f"{dest}: exists and is not an empty folder (nothing is overwritten; name a new folder)")
    dest.mkdir(parents=True, exist_ok=True)
    if is_bundle(code):
        return write_folder(code, dest)
    target = dest / (PurePosixPath(program_name).name or "initial.py")
    with open(target, "w", encoding="utf-8", newline="") as fh:
        fh.write(code)
    return [target]
