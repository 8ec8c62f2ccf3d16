from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutate_fixtures import CPP_MULTI, PY_MULTI, PY_SINGLE

from evoforge.mutate.blocks import find_blocks, outside_blocks_equal
from evoforge.mutate.edits import (
    EditError,
    apply_reply,
    apply_search_replace,
    check_syntax,
    parse_search_replace,
    unified_diff,
)


def sr(search: str, replace: str, n: int = 7) -> str:
    return f"{'<' * n} SEARCH\n{search}\n{'=' * n}\n{replace}\n{'>' * n} REPLACE"


# --- parsing ----------------------------------------------------------------------------------

def test_parse_basic_and_marker_char_counts():
    for n in (3, 5, 7, 9):
        assert parse_search_replace(sr("a = 1", "a = 2", n)) == [("a = 1", "a = 2")]


def test_parse_tolerates_fences_prose_whitespace_and_crlf():
    reply = ("Sure, here is the change:\r\n```python\r\n  <<<<<<<  SEARCH  \r\n```\r\nx = 1\r\n"
             "```\r\n  =======  \r\nx = 2\r\n  >>>>>>>  REPLACE \r\n```\r\nDone.")
    assert parse_search_replace(reply) == [("x = 1", "x = 2")]


def test_parse_multiple_and_missing_end_between_edits():
    reply = (sr("a", "b") + "\n\nthen\n" + "<<<<<<< SEARCH\nc\n=======\nd\n"
             + "<<<<<<< SEARCH\ne\n=======\nf\n>>>>>>> REPLACE")
    assert parse_search_replace(reply) == [("a", "b"), ("c", "d"), ("e", "f")]


@pytest.mark.parametrize("tail", ["", "\n", "\n>>>>", "\n>>>>>>> REP", "\n```"])
def test_parse_truncated_reply_keeps_last_edit(tail):
    reply = "<<<<<<< SEARCH\n    x = 1\n=======\n    x = 3\n    y = 4" + tail
    assert parse_search_replace(reply) == [("    x = 1", "    x = 3\n    y = 4")]


def test_parse_drops_edit_cut_before_divider_and_garbage():
    assert parse_search_replace("<<<<<<< SEARCH\nx = 1\n") == []
    assert parse_search_replace("hello world\n=======\n>>>>>>> REPLACE") == []
    assert parse_search_replace("") == []


# --- applying ---------------------------------------------------------------------------------

def test_exact_edit():
    res = apply_search_replace(PY_SINGLE, [("    total = 0.5 * n", "    total = 0.75 * n")])
    assert res.ok and res.n_edits == 1 and res.notes == []
    assert "total = 0.75 * n" in res.code and outside_blocks_equal(PY_SINGLE, res.code)


def test_indentation_drift_is_reindented():
    search = "if i % 2 == 0:\n    total += step * 0.1\n    step = step - 1"
    replace = "if i % 3 == 0:\n    total += step * 0.2\n    step = step - 2\n    total *= 1.01"
    res = apply_search_replace(PY_SINGLE, [(search, replace)])
    assert "indentation" in res.reason
    assert "        if i % 3 == 0:\n            total += step * 0.2\n" in res.code
    assert "            total *= 1.01\n" in res.code
    assert check_syntax(res.code) is None


def test_first_line_missing_indent_only():
    # Models often drop the indentation of the first copied line only.
    search = "if i % 2 == 0:\n            total += step * 0.1"
    replace = "if i % 2 == 1:\n            total += step * 0.3"
    res = apply_search_replace(PY_SINGLE, [(search, replace)])
    assert "        if i % 2 == 1:\n            total += step * 0.3\n" in res.code
    assert check_syntax(res.code) is None


def test_trailing_whitespace_and_blank_lines_tolerated():
    res = apply_search_replace(PY_MULTI, [("    y = x * 3.0   \n\n\n    z = y + 2", "    y = x * 4.0\n    z = y + 2")])
    assert "y = x * 4.0" in res.code and outside_blocks_equal(PY_MULTI, res.code)
    res2 = apply_search_replace(PY_SINGLE, [("    label = \"weight 7.5\"\n    for i in range(n):",
                                             "    label = \"w\"\n    for i in range(n):")])
    assert 'label = "w"' in res2.code


def test_fragment_of_one_line():
    res = apply_search_replace(PY_SINGLE, [("0.5 * n", "0.6 * n")])
    assert "    total = 0.6 * n\n" in res.code
    assert "part of one line" in res.reason


def test_not_found_names_edit_and_closest_lines():
    edits = [("    total = 0.5 * n", "    total = 0.4 * n"), ("    stepp = totl + 1.25", "    step = 0")]
    with pytest.raises(EditError) as exc:
        apply_search_replace(PY_SINGLE, edits)
    msg = str(exc.value)
    assert msg.startswith("Edit 2 of 2: SEARCH text not found")
    assert "step = total + 1.25  # tune me: 3" in msg
    line = PY_SINGLE.split("\n").index("    step = total + 1.25  # tune me: 3") + 1
    assert f"line {line}" in msg


def test_edit_outside_blocks_is_refused():
    with pytest.raises(EditError, match="outside the EVOLVE-BLOCKs"):
        apply_search_replace(PY_SINGLE, [("def main():\n    return pack(26)  # 26 circles", "def main():\n    return 1")])
    with pytest.raises(EditError, match="line 1, which is outside"):
        apply_search_replace(PY_MULTI, [("import random", "import os")])


def test_empty_search_and_noop_are_errors():
    with pytest.raises(EditError, match="Edit 1: the SEARCH section is empty"):
        apply_search_replace(PY_SINGLE, [("  \n", "x = 1")])
    with pytest.raises(EditError, match="unchanged"):
        apply_search_replace(PY_SINGLE, [("    total = 0.5 * n", "    total = 0.5 * n")])
    with pytest.raises(EditError, match="no SEARCH/REPLACE"):
        apply_search_replace(PY_SINGLE, [])


def test_ambiguous_match_edits_the_first_and_exact_beats_fuzzy():
    code = "# EVOLVE-BLOCK-START\nx = 1\nx = 1\n# EVOLVE-BLOCK-END\n"
    assert apply_search_replace(code, [("x = 1", "x = 2")]).code.count("x = 1") == 1
    # block 1 has an indentation-level match, block 2 an exact one: exact wins
    code2 = ("# EVOLVE-BLOCK-START\n  y = 0\n# EVOLVE-BLOCK-END\nz\n"
             "# EVOLVE-BLOCK-START\ny = 0\n# EVOLVE-BLOCK-END\n")
    res = apply_search_replace(code2, [("y = 0", "y = 9")])
    assert res.code.endswith("y = 9\n# EVOLVE-BLOCK-END\n") and "  y = 0" in res.code


def test_replacement_cannot_inject_markers():
    with pytest.raises(EditError, match="markers"):
        apply_search_replace(PY_SINGLE, [("    return total", "    return total\n# EVOLVE-BLOCK-END\nx = 1\n# EVOLVE-BLOCK-START")])


def test_multi_block_and_cpp_edits_keep_outside_bytes():
    res = apply_search_replace(PY_MULTI, [("b = helper(a) * 1.5", "b = helper(a) * 2.5"), ("z = y + 2", "z = y + 3")])
    assert res.n_edits == 2 and outside_blocks_equal(PY_MULTI, res.code)
    assert "        b = helper(a) * 2.5\n" in res.code
    res = apply_search_replace(CPP_MULTI, [("    return x * 1.5 + 3;", "    return x * 2.5 + 3;")])
    assert outside_blocks_equal(CPP_MULTI, res.code) and check_syntax(res.code, "cpp") is None


def test_crlf_code_edited_in_crlf():
    code = PY_SINGLE.replace("\n", "\r\n")
    res = apply_search_replace(code, [("    total = 0.5 * n", "    total = 0.9 * n\n    total += 1")])
    assert "    total = 0.9 * n\r\n    total += 1\r\n" in res.code
    assert outside_blocks_equal(code, res.code) and "\n" not in res.code.replace("\r\n", "")


_BODY = ["a = 1", "b = a + 2", "if b > 2:", "    c = b * 3", "    b = c - 1", "d = b + a", "return d"]


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 6), st.integers(1, 3), st.sampled_from(["", " ", "  ", "        ", "\t"]),
       st.booleans(), st.integers(0, 3))
def test_property_drifted_search_applies(start, length, indent, blank, outer):
    """SEARCH = real consecutive lines, re-indented arbitrarily (and with a blank line
    inserted): it applies, the child parses, and only the block changed."""
    pad = "    " * outer
    body = "\n".join(pad + "    " + ln for ln in _BODY)
    head = "import os\n\n" + "".join("    " * k + f"def g{k}():\n" for k in range(outer))
    code = (head + pad + "# EVOLVE-BLOCK-START\n" + pad + "def f():\n" + body + "\n" + pad
            + "# EVOLVE-BLOCK-END\n" + (pad + "return 0\n" if outer else "") + "\nprint(os.sep)\n")
    assert check_syntax(code) is None, code
    chunk = _BODY[start:start + length]
    base = min(len(ln) - len(ln.lstrip()) for ln in chunk)
    search_lines = [indent + ln[base:] for ln in chunk]
    if blank and len(search_lines) > 1:
        search_lines.insert(1, "")
    last = search_lines[-1]
    extra = last[: len(last) - len(last.lstrip())] + ("    pass" if last.endswith(":") else "pass")
    replace = "\n".join(search_lines + [extra])
    res = apply_reply(code, sr("\n".join(search_lines), replace), "diff")
    assert res.ok, res.reason
    assert check_syntax(res.code) is None, res.code
    assert outside_blocks_equal(code, res.code)


# --- apply_reply --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["diff", "full", "fix", "crossover"])
@pytest.mark.parametrize("reply", ["", "   \n ", ("I am not sure what you want me to do here.\n"
                                                   "Could you clarify the task for me please?")])
def test_empty_and_prose_replies_fail_with_reason(mode, reply):
    res = apply_reply(PY_SINGLE, reply, mode)
    assert not res.ok and res.code is None and res.reason


def test_garbage_diff_reply_reason():
    res = apply_reply(PY_SINGLE, "@@@ ### $$$ random tokens 12 34", "diff")
    assert not res.ok and "no SEARCH/REPLACE edit found" in res.reason


def test_echoed_template_fails_not_silently():
    from evoforge.mutate.prompts import EXAMPLES

    res = apply_reply(PY_SINGLE, sr(*EXAMPLES[0]), "diff")
    assert not res.ok and "not found" in res.reason


def test_diff_mode_falls_back_to_a_big_code_block():
    block = find_blocks(PY_SINGLE)[0].text.replace("0.5 * n", "0.8 * n")
    res = apply_reply(PY_SINGLE, f"```python\n{block}```", "diff")
    assert res.ok and "0.8 * n" in res.code and res.notes
    small = apply_reply(PY_SINGLE, "```python\nx = 1\n```", "diff")
    assert not small.ok


def test_full_mode_accepts_diff_reply():
    res = apply_reply(PY_SINGLE, sr("    total = 0.5 * n", "    total = 0.1 * n"), "full")
    assert res.ok and "0.1 * n" in res.code


def test_unknown_mode():
    with pytest.raises(ValueError):
        apply_reply(PY_SINGLE, "x", "patch")


# --- syntax and diff ----------------------------------------------------------------------------

def test_check_syntax_python_and_cpp():
    assert check_syntax(PY_SINGLE) is None
    err = check_syntax("x = 1\ny = = 2\n")
    assert err.startswith("line 2:") and "y = = 2" in err
    assert check_syntax("def f():\nreturn 1\n").startswith("line 2")
    assert "return" in check_syntax("return 1\n")  # caught by compile, not by ast.parse
    assert check_syntax("x = '\0'\0") is not None
    assert check_syntax(CPP_MULTI, "cpp") is None
    assert check_syntax("int f() { if (x) { return 1; }\n", "cpp") == "line 1: '{' is never closed"
    assert check_syntax('int f() { s = "}"; }', "c++") is None
    assert check_syntax("garbage {{{", "haskell") is None


def test_unified_diff():
    child = PY_SINGLE.replace("0.5 * n", "0.6 * n")
    diff = unified_diff(PY_SINGLE, child)
    assert diff.startswith("--- parent\n+++ child\n") and "-    total = 0.5 * n\n+    total = 0.6 * n\n" in diff
    assert unified_diff("a", "b").endswith("\\ No newline at end of file\n")
    assert unified_diff(PY_SINGLE, PY_SINGLE) == ""


_FRAGMENTS = st.sampled_from([
    "<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE", "```python", "```", "# EVOLVE-BLOCK-START",
    "# EVOLVE-BLOCK-END", "    total = 0.5 * n", "total = 0.7 * n", "def pack(n):", "import math",
    "    return total", "Here is the fix:", "", "   ", "pass", "\t\tx = (", "<<<", ">>>", "===",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_FRAGMENTS, st.text(max_size=20)), max_size=14),
       st.sampled_from(["diff", "full", "fix", "crossover"]),
       st.sampled_from([PY_SINGLE, PY_MULTI, CPP_MULTI]))
def test_property_any_reply_never_raises_and_never_touches_outside(parts, mode, parent):
    res = apply_reply(parent, "\n".join(parts), mode)
    assert res.ok == (res.code is not None) and res.reason
    if res.ok:
        assert outside_blocks_equal(parent, res.code) and res.code != parent
