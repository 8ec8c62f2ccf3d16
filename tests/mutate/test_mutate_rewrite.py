from __future__ import annotations

import pytest
from mutate_fixtures import CPP_MULTI, PY_MULTI, PY_SINGLE

from evoforge.mutate.blocks import find_blocks, outside_blocks_equal
from evoforge.mutate.edits import (
    EditError,
    apply_reply,
    check_syntax,
    extract_full_rewrite,
)

NEW_BLOCK = '''def pack(n):
    total = 0.9 * n
    return total
'''


def _whole(code: str, new_block: str, keep_markers: bool) -> str:
    """The parent with its single block replaced, with or without marker lines."""
    start = code.index("# EVOLVE-BLOCK-START\n")
    end = code.index("# EVOLVE-BLOCK-END\n")
    if keep_markers:
        return code[: start + len("# EVOLVE-BLOCK-START\n")] + new_block + code[end:]
    return code[:start] + new_block + code[end + len("# EVOLVE-BLOCK-END\n"):]


def _check(child: str, parent: str = PY_SINGLE, block: str = NEW_BLOCK) -> None:
    assert outside_blocks_equal(parent, child)
    assert find_blocks(child)[0].text == block
    assert check_syntax(child) is None


@pytest.mark.parametrize("markers", [True, False])
@pytest.mark.parametrize("fenced", [True, False])
def test_whole_program_reply(markers, fenced):
    body = _whole(PY_SINGLE, NEW_BLOCK, markers)
    reply = f"Here is the improved program:\n```python\n{body}```\nIt is faster." if fenced else body
    _check(extract_full_rewrite(reply, PY_SINGLE))


def test_block_only_reply_fenced_and_bare():
    _check(extract_full_rewrite(f"```\n{NEW_BLOCK}```", PY_SINGLE))
    _check(extract_full_rewrite(f"Sure! Here you go.\n\n{NEW_BLOCK}\n", PY_SINGLE))


def test_truncated_fence_and_open_marker():
    _check(extract_full_rewrite(f"```python\n{NEW_BLOCK}", PY_SINGLE))
    reply = f"```python\nimport math\n# EVOLVE-BLOCK-START\n{NEW_BLOCK}"
    _check(extract_full_rewrite(reply, PY_SINGLE))


def test_model_edits_to_the_outside_are_ignored():
    body = _whole(PY_SINGLE, NEW_BLOCK, True).replace("pack(26)", "999").replace("import math", "import os")
    child = extract_full_rewrite(f"```python\n{body}```", PY_SINGLE)
    _check(child)
    assert "pack(26)" in child and "999" not in child


def test_dropped_outside_lines_still_align():
    body = _whole(PY_SINGLE, NEW_BLOCK, False).replace("import math\n", "")
    _check(extract_full_rewrite(body, PY_SINGLE))


def test_dedented_block_for_indented_parent_is_reindented():
    reply = "```python\na = score(x) * 2\nb = helper(a)\nc = a - b\n```"
    code = PY_MULTI
    # the multi-block parent needs markers; exercise re-indent through a single nested block
    single = code[: code.index("# EVOLVE-BLOCK-START")] + "def f():\n    # EVOLVE-BLOCK-START\n    x = 1\n    # EVOLVE-BLOCK-END\n    return x\n"
    child = extract_full_rewrite(reply, single)
    assert "    a = score(x) * 2\n    b = helper(a)\n    c = a - b\n" in child
    assert outside_blocks_equal(single, child) and check_syntax(child) is None


def test_multi_block_with_markers_in_order():
    blocks = ["def score(x):\n    return x * 7\n", "        c = score(x)\n"]
    reply = ("```python\nimport random\n# EVOLVE-BLOCK-START\n" + blocks[0] + "# EVOLVE-BLOCK-END\n"
             "...\n        # EVOLVE-BLOCK-START\n" + blocks[1] + "        # EVOLVE-BLOCK-END\n```")
    child = extract_full_rewrite(reply, PY_MULTI)
    assert [b.text for b in find_blocks(child)] == blocks
    assert outside_blocks_equal(PY_MULTI, child) and check_syntax(child) is None


def test_multi_block_without_markers_aligned_on_outside_code():
    new = (PY_MULTI.replace("    y = x * 3.0\n", "    y = x * 4.0\n")
           .replace("        c = a + b\n", "        c = a * b\n"))
    reply = "\n".join(ln for ln in new.split("\n") if "EVOLVE-BLOCK" not in ln)
    child = extract_full_rewrite(reply, PY_MULTI)
    assert outside_blocks_equal(PY_MULTI, child)
    assert "y = x * 4.0" in find_blocks(child)[0].text and "c = a * b" in find_blocks(child)[1].text


def test_cpp_multi_block_full_rewrite():
    reply = CPP_MULTI.replace("x * 1.5 + 3", "x * 2.5 + 1").replace("int n = 10;", "int n = 12;")
    child = extract_full_rewrite(f"```cpp\n{reply}```", CPP_MULTI)
    assert outside_blocks_equal(CPP_MULTI, child) and "x * 2.5 + 1" in child and "n = 12" in child
    assert check_syntax(child, "cpp") is None


@pytest.mark.parametrize("reply, fragment", [
    ("", "empty"),
    ("I would rather not change anything here.\nThe code looks great to me already.", "only prose"),
    (f"```python\n{find_blocks(PY_SINGLE)[0].text}```", "identical"),
])
def test_rewrite_failures(reply, fragment):
    with pytest.raises(EditError, match=fragment):
        extract_full_rewrite(reply, PY_SINGLE)


def test_block_count_mismatch_and_missing_markers_for_multi():
    reply = "```python\n# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n```"
    with pytest.raises(EditError, match="reply has 1 EVOLVE-BLOCK"):
        extract_full_rewrite(reply, PY_MULTI)
    with pytest.raises(EditError, match="EVOLVE-BLOCK"):
        extract_full_rewrite("```python\nx = 1\ny = 2\n```", PY_MULTI)


def test_crlf_parent_keeps_crlf():
    parent = PY_SINGLE.replace("\n", "\r\n")
    child = extract_full_rewrite(f"```python\n{NEW_BLOCK}```", parent)
    assert outside_blocks_equal(parent, child) and "total = 0.9 * n\r\n" in child
    assert "\n" not in child.replace("\r\n", "")


def test_unmarked_parent_rewrites_whole_file():
    assert extract_full_rewrite("```python\nx = 2\n```", "x = 1\n") == "x = 2\n"


def test_apply_reply_full_and_crossover_modes():
    for mode in ("full", "crossover", "fix"):
        res = apply_reply(PY_SINGLE, f"```python\n{NEW_BLOCK}```", mode)
        assert res.ok and res.reason == "full rewrite"
        _check(res.code)
