"""JSON-schema-constrained edits: the second route to a reply that is an edit by construction.

Servers without GBNF support often accept a JSON schema instead (Ollama, vLLM, OpenAI
structured outputs). The schema makes the reply ``{"search": ..., "replace": ...}`` with
``search`` an ``enum`` of real lines of the parent, so a small model cannot mis-copy the line
it edits; only the new text can be bad. Candidate lines follow the GBNF grammar's rules
(`evoforge.mutate.grammar`): non-blank lines inside the EVOLVE-BLOCKs, not poor anchors, and
here also unique in the whole program, so the edit applies to exactly the line chosen.
`edit_from_json` turns the reply back into the SEARCH/REPLACE text that
`evoforge.mutate.edits.apply_reply` already applies, so everything after the call is shared.
"""
from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from evoforge.bundle import is_bundle
from evoforge.errors import TaskError
from evoforge.mutate.blocks import find_blocks
from evoforge.mutate.files import FILE_LINE, program_files
from evoforge.mutate.result import EditError
from evoforge.mutate.grammar import is_literal_line, is_poor_anchor
from evoforge.mutate.tweak import numeric_lines

__all__ = ["SCHEMA_NAME", "candidate_lines", "edit_from_json", "edit_schema"]

SCHEMA_NAME = "search_replace_edit"  # the response_format name: [a-zA-Z0-9_-]{1,64}
_FENCE = re.compile(r"^\s*```[\w-]*\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL)


def _program_lines(code: str) -> list[str]:
    return [ln.rstrip("\r") for ln in code.split("\n")]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def candidate_lines(parent_code: str, *, language: str = "python", tweak: bool = False,
                    exclude: set[str] | frozenset[str] | None = None, max_lines: int = 200) -> list[str]:
    """The lines a SEARCH may name, in file order (see the module docstring).

    ``tweak``: only lines holding a number (`tweak.numeric_lines`), and lines in ``exclude``
    (already tweaked from this parent) left out while others remain, as the tweak grammar does.
    When every line is a poor anchor, poor anchors are allowed, as in the GBNF grammar. For a
    folder program: lines of its editable files' blocks, unique in the whole folder, so the line
    names its file too (`edit_from_json` writes the ``FILE:`` line).
    """
    try:
        if is_bundle(parent_code):
            block_lines = numeric_lines(parent_code) if tweak else [
                ln for f in program_files(parent_code) if f.editable
                for block in find_blocks(f.text) for ln in block.lines if ln.strip()]
        else:
            block_lines = numeric_lines(parent_code) if tweak else [
                ln for block in find_blocks(parent_code) for ln in block.lines if ln.strip()]
    except (TaskError, EditError):
        return []
    counts = Counter(_program_lines(parent_code))
    usable = list(dict.fromkeys(ln for ln in block_lines if counts[ln] == 1 and is_literal_line(ln)))
    good = [ln for ln in usable if not is_poor_anchor(ln, language)] or usable
    if tweak and exclude:
        good = [ln for ln in good if ln not in exclude] or good
    return good[:max_lines]


def edit_schema(parent_code: str, *, language: str = "python", tweak: bool = False,
                exclude: set[str] | None = None) -> dict[str, Any] | None:
    """A JSON schema for ``{"search": <a candidate line>, "replace": <text>}``, or None when no
    line qualifies. Strict-mode compatible (every property required, no others allowed)."""
    lines = candidate_lines(parent_code, language=language, tweak=tweak, exclude=exclude)
    if not lines:
        return None
    return {
        "type": "object",
        "properties": {
            "search": {"type": "string", "enum": lines},
            "replace": {"type": "string"},
        },
        "required": ["search", "replace"],
        "additionalProperties": False,
    }


def _load(reply: str) -> Any:
    """The JSON value in a reply, tolerating whitespace, a code fence or chatter around it."""
    text = reply.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        return json.loads(text)
    except ValueError:
        start = text.find("{")
        if start < 0:
            return None
        try:
            return json.JSONDecoder().raw_decode(text[start:])[0]
        except ValueError:
            return None


def _locate(search: str, lines: list[str]) -> str | None:
    """The program text the SEARCH names: the line itself, or (a server that ignored the schema)
    the one line equal to it but for indentation, or consecutive lines copied exactly."""
    search = search.replace("\r\n", "\n").strip("\n")
    if not search.strip():
        return None
    if "\n" not in search:
        if search in lines:
            return search
        same = [ln for ln in lines if ln.strip() == search.strip()]
        return same[0] if len(same) == 1 else None
    wanted = search.split("\n")
    for i in range(len(lines) - len(wanted) + 1):
        if lines[i:i + len(wanted)] == wanted:
            return search
    return None


def edit_from_json(reply: str, parent_code: str) -> str | None:
    """The SEARCH/REPLACE text of a JSON edit reply, or None when it is not one.

    None for invalid JSON, a missing or non-string key, a SEARCH that is not a line of the
    program, or a REPLACE holding a line that would read as an edit marker. Small models drop
    indentation, so a REPLACE whose first non-blank line is indented less than the SEARCH
    line is shifted right by the difference (every non-blank line, keeping its own nesting).
    """
    data = _load(reply)
    if not isinstance(data, dict):
        return None
    search, replace = data.get("search"), data.get("replace")
    if not isinstance(search, str) or not isinstance(replace, str):
        return None
    search = _locate(search, _program_lines(parent_code))
    if search is None:
        return None
    new = replace.replace("\r\n", "\n").strip("\n").split("\n") if replace.strip() else []
    if any(ln.strip() and not is_literal_line(ln) for ln in new):
        return None
    first = next((ln for ln in new if ln.strip()), None)
    want, have = _indent(search.split("\n")[0]), _indent(first) if first is not None else ""
    if first is not None and len(have) < len(want):
        shift = want.removeprefix(have)  # the missing part, or all of it when tabs meet spaces
        new = [shift + ln if ln.strip() else ln for ln in new]
    body = "\n".join(new)
    head = _file_line_for(search, parent_code) if is_bundle(parent_code) else ""
    return f"{head}<<<<<<< SEARCH\n{search}\n=======\n{body}{chr(10) if new else ''}>>>>>>> REPLACE\n"


def _file_line_for(search: str, parent_code: str) -> str:
    """The ``FILE: path`` line of the one editable file whose blocks hold `search` ("" when not
    exactly one does: the edit is then placed, or refused with its reason, when applied)."""
    try:
        files = program_files(parent_code)
    except EditError:
        return ""
    wanted = search.split("\n")
    holders = []
    for f in files:
        if not f.editable:
            continue
        for block in find_blocks(f.text):
            lines = block.lines
            if any(lines[i:i + len(wanted)] == wanted for i in range(len(lines) - len(wanted) + 1)):
                holders.append(f.path)
                break
    return FILE_LINE.format(path=holders[0]) + "\n" if len(holders) == 1 else ""
