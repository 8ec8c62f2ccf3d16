"""Full rewrites: take new block contents from a reply, keep the parent's outside bytes.

A model asked for "the whole new code" may answer with a fenced block, with bare code, with
or without the EVOLVE-BLOCK marker lines, with the whole file or with only the block, and
sometimes with a sentence of prose around it. Whatever it wrote, the child is always the
parent with only its block contents replaced, so the harness can never be rewritten.
"""
from __future__ import annotations

import difflib
import re
import textwrap

from evoforge.bundle import is_bundle
from evoforge.errors import TaskError
from evoforge.mutate.blocks import (
    find_blocks,
    marker_kind,
    replace_blocks,
    segments,
    split_lines,
)
from evoforge.mutate.result import EditError

_FENCE_OPEN = re.compile(r"^\s*```[\w+#.\-]*\s*$")
_FENCE_CLOSE = re.compile(r"^\s*```\s*$")
_CODE_START = re.compile(
    r"^(import|from|return|for|while|if|elif|else|def|class|with|pass|raise|yield|assert|del|"
    r"global|nonlocal|try|except|finally|print|async|await|lambda|break|continue)\b"
)


def fenced_blocks(text: str) -> list[str]:
    """Contents of the ``` fenced blocks in ``text``; an unclosed last fence runs to the end."""
    out: list[str] = []
    current: list[str] | None = None
    for line in text.split("\n"):
        if current is None:
            if _FENCE_OPEN.match(line):
                current = []
        elif _FENCE_CLOSE.match(line):
            out.append("\n".join(current))
            current = None
        else:
            current.append(line)
    if current:
        out.append("\n".join(current))
    return out


def _is_prose(line: str) -> bool:
    """A sentence rather than code: words without code punctuation, and either at least
    four of them or a sentence end (models wrap code in "Here you go." lines)."""
    s = re.sub(r"^([-*]|\d+[.)])\s+", "", line.strip())  # markdown bullets
    if not s or _CODE_START.match(s) or s[0] in "#/;" or re.search(r"[=(){}\[\]<>+*%;]|\w\.\w", s):
        return False
    words = re.findall(r"[A-Za-z']+", s)
    return len(words) >= 4 or (len(words) >= 2 and s[-1] in ".!?:")


def _strip_prose_edges(lines: list[str]) -> list[str]:
    while lines and (not lines[0].strip() or _is_prose(lines[0])):
        lines = lines[1:]
    while lines and (not lines[-1].strip() or _is_prose(lines[-1])):
        lines = lines[:-1]
    return lines


def _code_from_reply(text: str) -> str:
    """The code part of a reply: the fence holding the markers, else the longest fence,
    else the reply minus any prose lines at its edges."""
    fences = fenced_blocks(text)
    if fences:
        marked = [f for f in fences if "EVOLVE-BLOCK-START" in f]
        return marked[0] if marked else max(fences, key=len)
    lines = text.split("\n")
    code = _strip_prose_edges(lines)
    nonblank = [ln for ln in code if ln.strip()]
    if not nonblank or sum(map(_is_prose, nonblank)) * 2 > len(nonblank):
        raise EditError("the reply holds no code (only prose); reply with the new code")
    return "\n".join(code)


def _marked_texts(lines: list[str]) -> list[str]:
    """Block contents by marker order; a START left open at the end runs to the end."""
    texts: list[str] = []
    current: list[str] | None = None
    for line in lines:
        kind = marker_kind(line)
        if kind == "start":
            current = []
        elif kind == "end":
            if current is not None:
                texts.append("".join(current))
            current = None
        elif current is not None:
            current.append(line)
    if current is not None:
        texts.append("".join(current))
    return texts


def _aligned_texts(cand: list[str], parent_code: str) -> list[str] | None:
    """Cut a marker-less whole-program reply into block contents using the parent's outside
    code as anchors (difflib alignment). None when the reply does not look like the whole
    program (fewer than half of the outside lines present)."""
    outside, blocks = segments(parent_code)
    parent: list[tuple[str, int]] = []  # (stripped line, outside segment index) for outside code
    for seg_index, seg in enumerate(outside):
        for line in split_lines(seg):
            if line.strip() and marker_kind(line) is None:
                parent.append((line.strip(), seg_index))
    if not parent:
        return None
    cand_nb = [i for i, ln in enumerate(cand) if ln.strip()]
    matcher = difflib.SequenceMatcher(
        None, [p for p, _ in parent], [cand[i].strip() for i in cand_nb], autojunk=False
    )
    label: dict[int, int] = {}  # candidate line index -> outside segment index
    for i, j, size in matcher.get_matching_blocks():
        if size == 0 or (size == 1 and len(parent[i][0]) < 8):
            continue  # a lone short line ("}", "pass") is no anchor
        for t in range(size):
            label[cand_nb[j + t]] = parent[i + t][1]
    if len(label) * 2 < len(parent):
        return None
    texts = []
    for block in blocks:
        b = block.index
        before = [ci for ci, s in label.items() if s <= b]
        after = [ci for ci, s in label.items() if s >= b + 1]
        if 0 < b and not before or b < len(blocks) - 1 and not after:
            raise EditError(
                f"could not find where block {b + 1} starts and ends in the reply; reply with "
                "the complete program and keep the EVOLVE-BLOCK-START/END marker lines"
            )
        lo = max(before) + 1 if before else 0
        hi = min(after) if after else len(cand)
        texts.append("".join(cand[lo:hi]))
    return texts


def _trim_blank_edges(text: str) -> str:
    lines = split_lines(text)
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return "".join(lines)


def _common_indent(text: str) -> str:
    indents = [ln[: len(ln) - len(ln.lstrip(" \t"))] for ln in text.split("\n") if ln.strip()]
    if not indents:
        return ""
    return min(indents, key=len)


def _match_indent(new: str, old: str) -> str:
    """Re-indent a dedented block (a model often drops the indentation of a function body)."""
    want, have = _common_indent(old), _common_indent(new)
    if len(have) >= len(want):
        return new
    return textwrap.indent(textwrap.dedent(new), want)


def extract_full_rewrite(text: str, parent_code: str, *, allow_unchanged: bool = False) -> str:
    """The child program a full-rewrite reply describes; raises `EditError` when none.

    A folder program (a bundle) is rewritten file by file (`evoforge.mutate.bundle_edits`): the
    reply names each file it rewrites. `allow_unchanged`: a rewrite equal to the parent is
    returned rather than refused (one file of several left as it was).

    Order of evidence: a fenced block (the one with markers, else the longest) or the reply;
    if it has marker lines, block contents are taken between them by order; otherwise, if it
    looks like the whole program, contents are cut out around the parent's outside code;
    otherwise the code is the new content of the single block.
    """
    if is_bundle(parent_code):
        from evoforge.mutate.bundle_edits import extract_bundle_rewrite
        return extract_bundle_rewrite(text, parent_code)
    text = text.replace("\r\n", "\n")
    if not text.strip():
        raise EditError("empty reply")
    code = _code_from_reply(text)
    try:
        _, blocks = segments(parent_code)
    except TaskError as exc:
        raise EditError(f"the parent program has broken EVOLVE-BLOCK markers: {exc}") from exc
    marked = blocks[0].start_line > 0
    cand = split_lines(code if code.endswith("\n") else code + "\n")
    has_markers = any(marker_kind(ln) for ln in cand)
    if not marked:
        texts = [code]
    elif has_markers:
        texts = _marked_texts(cand)
        if len(texts) != len(blocks):
            raise EditError(
                f"the reply has {len(texts)} EVOLVE-BLOCK(s) but the program has {len(blocks)}; "
                "reply with every block, each between its marker lines"
            )
    else:
        aligned = _aligned_texts(cand, parent_code)
        if aligned is not None:
            texts = aligned
        elif len(blocks) == 1:
            texts = [code]
        else:
            raise EditError(
                f"the program has {len(blocks)} EVOLVE-BLOCKs but the reply has no marker lines; "
                "reply with the complete program and keep the EVOLVE-BLOCK-START/END lines"
            )
    if marked:
        texts = [_match_indent(_trim_blank_edges(t), b.text) for t, b in zip(texts, blocks)]
    if not any(t.strip() for t in texts):
        raise EditError("the reply's code is empty")
    if "\r\n" in parent_code:
        texts = [t.replace("\r\n", "\n").replace("\n", "\r\n") for t in texts]
    child = replace_blocks(parent_code, texts)
    try:
        find_blocks(child)
    except TaskError as exc:
        raise EditError(f"the rewrite breaks the EVOLVE-BLOCK markers: {exc}") from exc
    if child == parent_code and not allow_unchanged:
        raise EditError("the rewrite is identical to the current program; change something")
    return child
