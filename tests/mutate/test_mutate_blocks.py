from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutate_fixtures import CPP_MULTI, PY_MULTI, PY_SINGLE

from evoforge.errors import TaskError
from evoforge.mutate.blocks import (
    Block,
    block_line_numbers,
    find_blocks,
    outside_blocks_equal,
    replace_blocks,
    segments,
)


def test_single_block_lines_and_text():
    (block,) = find_blocks(PY_SINGLE)
    lines = PY_SINGLE.split("\n")
    assert lines[block.start_line - 1] == "# EVOLVE-BLOCK-START"
    assert lines[block.end_line - 1] == "# EVOLVE-BLOCK-END"
    assert block.text.startswith("def pack(n):\n") and block.text.endswith("return total\n")
    assert block.index == 0 and block.first_content_line == block.start_line + 1


def test_multi_block_and_indented_markers():
    blocks = find_blocks(PY_MULTI)
    assert [b.index for b in blocks] == [0, 1]
    assert blocks[1].text == "        a = score(x)\n        b = helper(a) * 1.5\n        c = a + b\n"
    assert blocks[1].lines[0] == "        a = score(x)"


def test_cpp_markers_line_and_block_comments():
    blocks = find_blocks(CPP_MULTI)
    assert len(blocks) == 2
    assert "gain(double x)" in blocks[0].text
    assert blocks[1].text.strip().startswith("int n = 10;")


def test_no_markers_is_one_whole_file_block():
    code = "x = 1\ny = 2\n"
    (block,) = find_blocks(code)
    assert block == Block(0, 0, 3, code)
    assert replace_blocks(code, ["x = 5\n"]) == "x = 5\n"
    assert block_line_numbers(code) == {1, 2}


def test_marker_text_inside_a_string_is_not_a_marker():
    code = 'MARK = "EVOLVE-BLOCK-START"\n# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n'
    (block,) = find_blocks(code)
    assert block.text == "x = 1\n"


@pytest.mark.parametrize(
    "code, fragment",
    [
        ("a\n# EVOLVE-BLOCK-END\n", "EVOLVE-BLOCK-END at line 2 has no matching"),
        ("# EVOLVE-BLOCK-START\nx\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n",
         "at line 3 is inside the block opened at line 1"),
        ("x\n\n# EVOLVE-BLOCK-START\nx = 1\n", "EVOLVE-BLOCK-START at line 3 is never closed"),
    ],
)
def test_unbalanced_markers_raise_with_line_numbers(code, fragment):
    with pytest.raises(TaskError, match=fragment):
        find_blocks(code)


def test_segments_round_trip():
    for code in (PY_SINGLE, PY_MULTI, CPP_MULTI, "plain\n", ""):
        outside, blocks = segments(code)
        rebuilt = outside[0] + "".join(b.text + outside[b.index + 1] for b in blocks)
        assert rebuilt == code


def test_replace_blocks_keeps_outside_and_adds_newline():
    new = replace_blocks(PY_MULTI, ["def score(x):\n    return x", "        c = 1"])
    assert outside_blocks_equal(PY_MULTI, new)
    assert [b.text for b in find_blocks(new)] == ["def score(x):\n    return x\n", "        c = 1\n"]
    with pytest.raises(ValueError):
        replace_blocks(PY_MULTI, ["x"])


def test_crlf_files_stay_crlf():
    code = PY_SINGLE.replace("\n", "\r\n")
    (block,) = find_blocks(code)
    assert block.text.endswith("\r\n") and block.lines[0] == "def pack(n):"
    new = replace_blocks(code, ["x = 1"])
    assert "x = 1\r\n# EVOLVE-BLOCK-END\r\n" in new
    assert outside_blocks_equal(code, new)


def test_outside_blocks_equal_detects_changes():
    assert outside_blocks_equal(PY_SINGLE, PY_SINGLE.replace("0.5 * n", "0.7 * n"))
    assert not outside_blocks_equal(PY_SINGLE, PY_SINGLE.replace("pack(26)", "pack(27)"))
    assert not outside_blocks_equal(PY_SINGLE, PY_SINGLE.replace("# EVOLVE-BLOCK-END\n", ""))
    assert not outside_blocks_equal(PY_MULTI, PY_SINGLE)


_line = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=30)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(_line.filter(lambda s: "EVOLVE-BLOCK" not in s), max_size=6),
                min_size=2, max_size=2))
def test_property_replace_then_find_round_trips(texts):
    new_texts = ["".join(line + "\n" for line in lines) for lines in texts]
    child = replace_blocks(PY_MULTI, new_texts)
    assert outside_blocks_equal(PY_MULTI, child)
    assert [b.text for b in find_blocks(child)] == new_texts
