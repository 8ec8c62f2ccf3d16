"""JSON-schema edits: the schema only offers lines an edit can anchor on unambiguously, and a
reply in that shape turns into a SEARCH/REPLACE edit that applies (re-indented when the small
model dropped the indentation), while anything else is refused rather than guessed at."""
from __future__ import annotations

import importlib.util
import json

import pytest

from evoforge.mutate import edits
from evoforge.mutate.schema_edits import candidate_lines, edit_from_json, edit_schema

PROGRAM = '''\
"""Harness docstring."""
import math



# EVOLVE-BLOCK-START
def step(x):
    """Docstring line with 3 in it."""
    # a comment with 7
    y = x * 2
    z = y + 1
    total = 0
    return z + total
# EVOLVE-BLOCK-END


def harness():
    total = 0
    return total
'''


def _enum(schema: dict) -> list[str]:
    return schema["properties"]["search"]["enum"]


def test_candidates_are_unique_good_block_lines():
    lines = _enum(edit_schema(PROGRAM))
    assert lines == ["    y = x * 2", "    z = y + 1", "    return z + total"]
    # left out: the def/docstring/comment (poor anchors), "    total = 0" (also in the harness, so
    # ambiguous), and everything outside the block


def test_tweak_candidates_hold_numbers_and_honour_exclude():
    assert candidate_lines(PROGRAM, tweak=True) == ["    y = x * 2", "    z = y + 1"]
    assert candidate_lines(PROGRAM, tweak=True, exclude={"    y = x * 2"}) == ["    z = y + 1"]
    # every line already tweaked: offer them again rather than nothing (as the tweak grammar does)
    both = {"    y = x * 2", "    z = y + 1"}
    assert candidate_lines(PROGRAM, tweak=True, exclude=both) == ["    y = x * 2", "    z = y + 1"]
    assert _enum(edit_schema(PROGRAM, tweak=True, exclude={"    z = y + 1"})) == ["    y = x * 2"]


def test_no_candidate_gives_none():
    no_numbers = "# EVOLVE-BLOCK-START\ndef f(x):\n    return x\n# EVOLVE-BLOCK-END\n"
    assert edit_schema(no_numbers, tweak=True) is None
    assert edit_schema("# EVOLVE-BLOCK-START\n\n# EVOLVE-BLOCK-END\n") is None
    duplicated = "# EVOLVE-BLOCK-START\nx = 1\nx = 1\n# EVOLVE-BLOCK-END\n"
    assert edit_schema(duplicated) is None


def test_whole_file_is_the_block_without_markers_and_poor_anchors_are_a_last_resort():
    assert _enum(edit_schema("a = 1\nb = 2\n")) == ["a = 1", "b = 2"]
    only_defs = "# EVOLVE-BLOCK-START\ndef f(): ...\n# EVOLVE-BLOCK-END\n"
    assert _enum(edit_schema(only_defs)) == ["def f(): ..."]
    # for other languages a '#' line is no comment, so it is a fine anchor
    assert "#define N 4" in _enum(edit_schema("#define N 4\nint x;\n", language="cpp"))


def test_candidates_are_capped():
    big = "".join(f"v{i} = {i}\n" for i in range(500))
    assert len(_enum(edit_schema(big))) == 200


def test_schema_is_a_valid_strict_json_schema():
    schema = edit_schema(PROGRAM)
    assert schema["required"] == ["search", "replace"] and schema["additionalProperties"] is False
    assert list(schema["properties"]) == ["search", "replace"]   # search is decoded first
    assert schema["properties"]["replace"] == {"type": "string"}
    json.dumps(schema)
    if importlib.util.find_spec("jsonschema") is None:
        return
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    assert validator.is_valid({"search": "    z = y + 1", "replace": "    z = y + 2"})
    assert not validator.is_valid({"search": "    z = y + 9", "replace": "x"})
    assert not validator.is_valid({"search": "    z = y + 1"})
    assert not validator.is_valid({"search": "    z = y + 1", "replace": "x", "why": "no"})


def test_json_edit_round_trips_through_apply_reply():
    reply = json.dumps({"search": "    z = y + 1", "replace": "    z = y + 5"})
    text = edit_from_json(reply, PROGRAM)
    assert edits.parse_search_replace(text) == [("    z = y + 1", "    z = y + 5")]
    result = edits.apply_reply(PROGRAM, text, "diff")
    assert result.ok and "    z = y + 5\n" in result.code and "    z = y + 1\n" not in result.code


def test_dropped_indentation_is_restored():
    reply = '```json\n{"search": "    z = y + 1", "replace": "if y:\\n    z = y + 5\\nelse:\\n    z = 0"}\n```\n'
    text = edit_from_json(reply, PROGRAM)
    assert edits.parse_search_replace(text) == [
        ("    z = y + 1", "    if y:\n        z = y + 5\n    else:\n        z = 0")]
    result = edits.apply_reply(PROGRAM, text, "diff")
    assert result.ok and edits.check_syntax(result.code) is None
    # already indented: left alone
    kept = edit_from_json('  {"search": "    z = y + 1", "replace": "    z = 3"}  ', PROGRAM)
    assert edits.parse_search_replace(kept) == [("    z = y + 1", "    z = 3")]


def test_empty_replace_deletes_the_line():
    text = edit_from_json('{"search": "    z = y + 1", "replace": ""}', PROGRAM)
    assert edits.parse_search_replace(text) == [("    z = y + 1", "")]
    assert "z = y + 1" not in edits.apply_reply(PROGRAM, text, "diff").code


@pytest.mark.parametrize("reply", [
    "", "not json at all", "[1, 2]", '{"search": "    z = y + 1"}', '{"replace": "x"}',
    '{"search": 3, "replace": "x"}', '{"search": "    w = 4", "replace": "x"}',     # no such line
    '{"search": "    z = y + 1", "replace": "=======\\nx"}',                          # marker line
    '{"search": "", "replace": "x"}',
])
def test_garbage_and_unknown_lines_are_refused(reply):
    assert edit_from_json(reply, PROGRAM) is None


def test_a_search_without_its_indentation_finds_its_unique_line():
    text = edit_from_json('Here you go: {"search": "z = y + 1", "replace": "z = y + 2"}', PROGRAM)
    assert edits.parse_search_replace(text) == [("    z = y + 1", "    z = y + 2")]
    assert edit_from_json('{"search": "total = 0", "replace": "total = 1"}', PROGRAM) is None  # twice
