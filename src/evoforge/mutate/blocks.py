"""EVOLVE-BLOCK markers: where a program may change.

A program marks the code that evolution may touch with comment lines containing
``EVOLVE-BLOCK-START`` and ``EVOLVE-BLOCK-END`` (``# ...`` in Python, ``// ...`` in C++,
``; ...`` in Redcode). Everything outside the blocks (the harness the evaluator relies on)
must stay byte-identical, so every edit path in evoforge goes through `find_blocks` /
`replace_blocks` and is checked with `outside_blocks_equal`.

Line handling: lines are split on ``\\n`` only and keep their endings, so ``"".join(lines)``
is the original text byte for byte (CRLF files stay CRLF). A file without any marker is one
block covering the whole file.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from evoforge.bundle import BundleError, is_bundle, unpack
from evoforge.errors import TaskError

START = "EVOLVE-BLOCK-START"
END = "EVOLVE-BLOCK-END"

# A marker line: optional indentation, at least one comment-ish punctuation character (not a
# quote, so a string literal holding the marker text is not a marker), then the marker word.
_MARKER_RE = re.compile(r"^[ \t]*[^\w\s'\"`]+[ \t]*EVOLVE-BLOCK-(START|END)\b")


@dataclass(frozen=True)
class Block:
    """One evolve block.

    ``start_line`` / ``end_line`` are the 1-based line numbers of the START and END marker
    lines; the block's content is the lines strictly between them (``start_line + 1`` to
    ``end_line - 1``). For a file without markers, ``start_line`` is 0 and ``end_line`` is
    ``number_of_lines + 1``. ``text`` keeps its line endings.
    """

    index: int
    start_line: int
    end_line: int
    text: str

    @property
    def first_content_line(self) -> int:
        """1-based number of the first line inside the block."""
        return self.start_line + 1

    @property
    def lines(self) -> list[str]:
        """Content lines without their line endings."""
        return [ln.rstrip("\r\n") for ln in split_lines(self.text)]


def split_lines(text: str) -> list[str]:
    """Split on ``\\n`` only, keeping endings, so that ``"".join`` round-trips exactly."""
    if not text:
        return []
    parts = text.split("\n")
    out = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        out.append(parts[-1])
    return out


def marker_kind(line: str) -> str | None:
    """``"start"``, ``"end"`` or None for one line of code."""
    m = _MARKER_RE.match(line)
    if not m:
        return None
    return "start" if m.group(1) == "START" else "end"


def find_blocks(code: str) -> list[Block]:
    """All evolve blocks in file order.

    Raises `TaskError` naming line numbers for an END without START, a START inside an
    open block (blocks cannot nest) and a START that is never closed: an unbalanced file is
    a broken task, and guessing would let edits leak into the harness.
    """
    lines = split_lines(code)
    blocks: list[Block] = []
    open_at: int | None = None
    seen_marker = False
    for number, line in enumerate(lines, start=1):
        kind = marker_kind(line)
        if kind is None:
            continue
        seen_marker = True
        if kind == "start":
            if open_at is not None:
                raise TaskError(
                    f"{START} at line {number} is inside the block opened at line {open_at}; "
                    f"evolve blocks cannot nest (close it with {END} first)"
                )
            open_at = number
        else:
            if open_at is None:
                raise TaskError(f"{END} at line {number} has no matching {START} before it")
            text = "".join(lines[open_at:number - 1])
            blocks.append(Block(len(blocks), open_at, number, text))
            open_at = None
    if open_at is not None:
        raise TaskError(f"{START} at line {open_at} is never closed by an {END} line")
    if not seen_marker:
        return [Block(0, 0, len(lines) + 1, code)]
    return blocks


def segments(code: str) -> tuple[list[str], list[Block]]:
    """Split ``code`` into the outside text around each block (marker lines included).

    Returns ``(outside, blocks)`` with ``len(outside) == len(blocks) + 1`` and
    ``code == outside[0] + blocks[0].text + outside[1] + ... + outside[-1]``.
    """
    blocks = find_blocks(code)
    lines = split_lines(code)
    outside: list[str] = []
    prev = 0  # index into lines of the first line after the previous block's content
    for block in blocks:
        content_start = block.start_line  # 0-based index of the first content line
        outside.append("".join(lines[prev:content_start]))
        prev = block.end_line - 1  # 0-based index of the END marker line
    outside.append("".join(lines[prev:]))
    return outside, blocks


def _newline_of(code: str) -> str:
    return "\r\n" if "\r\n" in code else "\n"


def replace_blocks(code: str, new_texts: list[str]) -> str:
    """Replace the content of every block, in order; the outside stays byte-identical.

    A non-empty replacement that does not end with a newline gets the file's newline style
    appended, so that the END marker stays on its own line.
    """
    outside, blocks = segments(code)
    if len(new_texts) != len(blocks):
        raise ValueError(f"program has {len(blocks)} evolve block(s), got {len(new_texts)} texts")
    newline = _newline_of(code)
    marked = blocks[0].start_line > 0
    parts = [outside[0]]
    for block, new in zip(blocks, new_texts):
        needs_newline = marked or block.text.endswith("\n")
        if new and needs_newline and not new.endswith("\n"):
            new += newline
        parts.append(new)
        parts.append(outside[block.index + 1])
    return "".join(parts)


def outside_blocks_equal(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` have the same number of blocks and identical outside bytes.

    Folder programs (bundles, `evoforge.bundle`) are compared file by file: the same files, each
    file without markers (frozen) byte-identical, each other file's outside bytes identical.
    """
    if is_bundle(a) or is_bundle(b):
        return _files_outside_equal(a, b)
    try:
        out_a, blocks_a = segments(a)
        out_b, blocks_b = segments(b)
    except TaskError:
        return False
    return len(blocks_a) == len(blocks_b) and out_a == out_b


def block_line_numbers(code: str) -> set[int]:
    """1-based numbers of every line inside some block (what operators may touch)."""
    numbers: set[int] = set()
    for block in find_blocks(code):
        numbers.update(range(block.start_line + 1, block.end_line))
    return numbers


def _files_outside_equal(a: str, b: str) -> bool:
    try:
        files_a, files_b = unpack(a), unpack(b)
    except BundleError:
        return False
    if set(files_a) != set(files_b):
        return False
    for path, text in files_a.items():
        other = files_b[path]
        if not any(marker_kind(line) for line in split_lines(text)):
            if other != text:
                return False
        elif not outside_blocks_equal(text, other):
            return False
    return True
