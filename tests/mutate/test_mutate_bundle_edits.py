"""Model replies to a folder program (issue 19): SEARCH/REPLACE edits and full rewrites name their
file; every child keeps its frozen file byte-identical and each file's outside-block text; every
bad edit (unknown file, frozen file, a path outside the folder, an ambiguous SEARCH, an injected
marker line) fails with a reason that names it, never as a silent skip."""
from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutate_fixtures import BUNDLE_FILES

from evoforge.bundle import changed_files, pack, unpack
from evoforge.bundle_rules import child_violation, syntax_error
from evoforge.mutate.blocks import outside_blocks_equal
from evoforge.mutate.edits import apply_reply, apply_search_replace, parse_edits, unified_diff
from evoforge.mutate.result import EditError
from evoforge.mutate.rewrite import extract_full_rewrite

PARENT = pack(BUNDLE_FILES)
H, S, M = "solver/heuristic.py", "solver/structure.py", "solver/main.py"


def sr(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n"


def assert_good_child(child: str | None, changed: list[str]) -> None:
    """The rules every child of a folder program keeps, checked two ways."""
    assert child is not None
    assert child_violation(PARENT, child) is None
    assert outside_blocks_equal(PARENT, child)
    assert unpack(child)[M] == BUNDLE_FILES[M]
    assert changed_files(PARENT, child) == changed
    assert syntax_error(child, "python") is None


# --- naming the file --------------------------------------------------------------------------

EDIT_H = sr("    return min(limit, x * 2.5)", "    return min(limit, x * 3.5)")


@pytest.mark.parametrize("reply", [
    f"FILE: {H}\n{EDIT_H}",
    f"File: `{H}` (editable)\n{EDIT_H}",
    f"**File:** {H}\n{EDIT_H}",
    f"### {H}\n```python\n{EDIT_H}```\n",
    f"{H}\n```python\n{EDIT_H}```\n",                            # aider's layout
    f"```python {H}\n{EDIT_H}```\n",                             # the path on the fence line
    f"```{H}\n{EDIT_H}```\n",
    EDIT_H.replace("<<<<<<< SEARCH", f"<<<<<<< SEARCH {H}"),      # on the SEARCH line
    f"=== evoforge-file: {H} ===\n{EDIT_H}",                     # an echoed bundle marker
    f"FILE: ./{H}\n{EDIT_H}",
], ids=["file", "decorated", "bold", "heading", "aider", "fence-info", "fence-path", "search-line", "marker", "dot-slash"])
def test_an_edit_names_its_file_in_the_ways_models_write_it(reply):
    result = apply_reply(PARENT, reply, "diff")
    assert result.ok, result.reason
    assert_good_child(result.code, [H])
    assert "x * 3.5" in unpack(result.code)[H]
    assert H in result.reason


def test_edits_to_each_file_in_one_reply_and_a_name_holds_until_the_next():
    reply = (f"FILE: {S}\n" + sr("SIZE = 8", "SIZE = 16") + sr("    return [0] * min(SIZE, limit)", "    return [1] * SIZE")
             + f"\nFILE: {H}\n" + sr("    limit = 10", "    limit = 20"))
    assert [name for name, _, _ in parse_edits(reply)] == [S, S, H]
    result = apply_reply(PARENT, reply, "diff")
    assert result.ok, result.reason
    assert_good_child(result.code, [H, S])
    files = unpack(result.code)
    assert "SIZE = 16" in files[S] and "[1] * SIZE" in files[S] and "limit = 10" in files[S]  # not the H edit
    assert "limit = 20" in files[H]


def test_an_edit_naming_no_file_goes_to_the_one_file_its_search_matches():
    result = apply_reply(PARENT, sr("SIZE = 8", "SIZE = 9"), "diff")
    assert result.ok and "solver/structure.py" in result.reason
    assert_good_child(result.code, [S])


def test_an_exact_copy_in_one_file_beats_a_loose_match_in_another():
    files = dict(BUNDLE_FILES)
    files[S] = files[S].replace("    limit = 10", "        limit = 10")  # H has it exactly, S only re-indented
    parent = pack(files)
    result = apply_search_replace(parent, [("    limit = 10", "    limit = 11")])
    assert result.ok and changed_files(parent, result.code) == [H]


def test_a_search_matching_in_two_files_alike_is_ambiguous():
    result = apply_reply(PARENT, sr("    limit = 10", "    limit = 11"), "diff")
    assert not result.ok and result.code is None
    assert "matches in solver/heuristic.py and solver/structure.py alike" in result.reason
    assert "FILE: path" in result.reason
    with pytest.raises(EditError, match="alike"):
        apply_search_replace(PARENT, [("    limit = 10", "    limit = 11")])


def test_a_bundle_with_one_editable_file_needs_no_name():
    files = {**BUNDLE_FILES, S: "SIZE = 8\n\n\ndef make():\n    return [0] * SIZE\n\n\ndef size():\n    return SIZE\n"}
    parent = pack(files)
    result = apply_reply(parent, sr("    return min(limit, x * 2.5)", "    return x"), "diff")
    assert result.ok and changed_files(parent, result.code) == [H]


def test_a_file_named_by_its_name_alone_when_one_file_has_it():
    result = apply_reply(PARENT, "FILE: heuristic.py\n" + EDIT_H, "diff")
    assert result.ok and changed_files(PARENT, result.code) == [H]
    assert any("named heuristic.py for solver/heuristic.py" in n for n in result.notes)


# --- bad edits: a reason, never a silent skip ---------------------------------------------------

@pytest.mark.parametrize("name, reason", [
    ("solver/missing.py", r"FILE 'solver/missing.py' is not a file of the program.*files you may edit: solver/heuristic.py, solver/structure.py"),
    (M, r"solver/main.py is read-only \(it has no EVOLVE-BLOCK"),
    ("../x.py", r"FILE '../x.py' is not a file of the program folder .*outside the folder"),
    ("solver/../../x.py", r"is not a file of the program folder"),
    ("/etc/passwd", r"FILE '/etc/passwd' is not a file of the program folder .*relative"),
])
def test_an_edit_naming_a_bad_file_fails_with_the_reason(name, reason):
    result = apply_reply(PARENT, f"FILE: {name}\n" + sr("SIZE = 8", "SIZE = 9"), "diff")
    assert not result.ok and result.code is None and result.n_edits == 1
    assert result.reason.startswith("Edit 1: ")
    assert re.search(reason, result.reason), result.reason


def test_a_second_bad_edit_fails_the_whole_reply_and_names_itself():
    reply = f"FILE: {S}\n" + sr("SIZE = 8", "SIZE = 9") + f"FILE: {M}\n" + sr("def solve():", "def solve2():")
    result = apply_reply(PARENT, reply, "diff")
    assert not result.ok and result.reason.startswith("Edit 2 of 2: solver/main.py is read-only")


def test_a_search_found_only_in_the_frozen_file_says_it_is_read_only():
    result = apply_reply(PARENT, sr("    return weight(len(make())) + 0.5", "    return 99"), "diff")
    assert not result.ok and "SEARCH matches solver/main.py, which is read-only" in result.reason


def test_a_search_outside_the_blocks_of_a_named_file_names_file_and_lines():
    result = apply_reply(PARENT, f"FILE: {S}\n" + sr("def size():\n    return SIZE", "def size():\n    return 0"), "diff")
    assert not result.ok
    assert result.reason.startswith("Edit 1 (solver/structure.py): SEARCH matches lines 11-12, which is outside the EVOLVE-BLOCKs")


def test_a_search_in_another_file_than_the_named_one_says_where_it_is():
    result = apply_reply(PARENT, f"FILE: {H}\n" + sr("SIZE = 8", "SIZE = 9"), "diff")
    assert not result.ok and result.reason.startswith("Edit 1 (solver/heuristic.py): SEARCH text not found")
    assert result.reason.endswith("(that SEARCH is in solver/structure.py: name that file)")


def test_a_search_found_nowhere_shows_the_closest_lines_of_the_likeliest_file():
    result = apply_reply(PARENT, sr("SIZE = 80000 # big", "SIZE = 9"), "diff")
    assert not result.ok and "(solver/structure.py): SEARCH text not found" in result.reason and "SIZE = 8" in result.reason


@pytest.mark.parametrize("replace, reason", [
    ("# EVOLVE-BLOCK-END\nSIZE = 9", "REPLACE contains an EVOLVE-BLOCK marker line"),
    ("SIZE = 9\n=== evoforge-file: solver/evil.py ===\nimport os", "holds a line that looks like a bundle file marker"),
])
def test_a_marker_line_injected_by_an_edit_is_refused(replace, reason):
    result = apply_reply(PARENT, f"FILE: {S}\n" + sr("SIZE = 8", replace), "diff")
    assert not result.ok and result.code is None and reason in result.reason
    assert "solver/structure.py" in result.reason


def test_an_edit_that_changes_nothing_is_an_error():
    result = apply_reply(PARENT, f"FILE: {S}\n" + sr("SIZE = 8", "SIZE = 8"), "diff")
    assert not result.ok and "leave the program unchanged" in result.reason


def test_a_damaged_parent_bundle_is_an_error_not_a_crash():
    damaged = PARENT + "=== evoforge-file: solver/main.py ===\nx = 1\n"   # the same file twice
    result = apply_reply(damaged, sr("SIZE = 8", "SIZE = 9"), "diff")
    assert not result.ok and "not a well-formed folder program" in result.reason


# --- full rewrites per file -------------------------------------------------------------------

NEW_S = ("# EVOLVE-BLOCK-START\nSIZE = 16\n\n\ndef make():\n    return [1] * SIZE\n# EVOLVE-BLOCK-END\n\n\n"
         "def size():\n    return SIZE\n")


def test_a_rewrite_of_one_named_file_leaves_the_others():
    result = apply_reply(PARENT, f"Here it is.\n\nFILE: {S}\n```python\n{NEW_S}```\n", "full")
    assert result.ok, result.reason
    assert_good_child(result.code, [S])
    assert unpack(result.code)[S] == NEW_S and result.reason == "full rewrite of solver/structure.py"


def test_a_rewrite_of_two_files_and_block_only_code():
    reply = (f"{S}\n```python\n{NEW_S}```\n\n### {H}\n```python\ndef weight(x):\n    return x * 4.0\n```\n")
    result = apply_reply(PARENT, reply, "full")
    assert result.ok, result.reason
    assert_good_child(result.code, [H, S])
    assert unpack(result.code)[H] == "import math\n\n# EVOLVE-BLOCK-START\ndef weight(x):\n    return x * 4.0\n# EVOLVE-BLOCK-END\n"


def test_a_rewrite_that_changes_outside_text_keeps_the_parents_outside():
    reply = f"FILE: {S}\n```python\n{NEW_S.replace('return SIZE', 'return -1')}```\n"
    result = apply_reply(PARENT, reply, "full")
    assert result.ok and unpack(result.code)[S].endswith("def size():\n    return SIZE\n")
    assert_good_child(result.code, [S])


def test_an_echo_of_the_whole_folder_with_one_file_changed():
    files = dict(BUNDLE_FILES)
    files[H] = files[H].replace("2.5", "2.75")
    result = apply_reply(PARENT, "Updated program:\n" + pack(files), "full")
    assert result.ok, result.reason
    assert_good_child(result.code, [H])


def test_an_unnamed_rewrite_goes_to_the_file_it_clearly_resembles():
    result = apply_reply(PARENT, f"```python\n{NEW_S}```\n", "full")
    assert result.ok and changed_files(PARENT, result.code) == [S]
    assert any("most like solver/structure.py" in n for n in result.notes)


def test_an_unnamed_rewrite_that_resembles_no_file_clearly_is_refused():
    result = apply_reply(PARENT, "```python\nlimit = 10\nprint(limit)\n```\n", "full")
    assert not result.ok and "names no file; write a line FILE: path" in result.reason


@pytest.mark.parametrize("name, reason", [
    (M, "solver/main.py is read-only"),
    ("solver/new.py", "FILE 'solver/new.py' is not a file of the program"),
    ("../evaluate.py", "is not a file of the program folder"),
])
def test_a_rewrite_naming_a_bad_file_fails(name, reason):
    result = apply_reply(PARENT, f"FILE: {name}\n```python\ndef solve():\n    return 1000\n```\n", "full")
    assert not result.ok and result.code is None and reason in result.reason


def test_a_rewrite_that_changes_nothing_is_an_error():
    with pytest.raises(EditError, match="identical to the current program"):
        extract_full_rewrite(f"FILE: {S}\n```python\n{BUNDLE_FILES[S]}```\n", PARENT)


def test_a_diff_reply_answered_with_a_named_rewrite_is_used():
    result = apply_reply(PARENT, f"FILE: {S}\n```python\n{NEW_S}```\n", "diff")
    assert result.ok and "used the reply's code as a rewrite" in " ".join(result.notes)


# --- diffs and the outside check --------------------------------------------------------------

def test_unified_diff_of_a_bundle_has_one_section_per_changed_file():
    child = apply_reply(PARENT, f"FILE: {S}\n" + sr("SIZE = 8", "SIZE = 9"), "diff").code
    diff = unified_diff(PARENT, child)
    assert "--- a/solver/structure.py\n+++ b/solver/structure.py\n" in diff
    assert "heuristic" not in diff and "-SIZE = 8\n+SIZE = 9\n" in diff


@pytest.mark.parametrize("path, old, new, equal", [
    (S, "SIZE = 8", "SIZE = 9", True),                            # inside a block
    (M, "+ 0.5", "+ 1.5", False),                                 # the frozen file
    (S, "def size():", "def size2():", False),                    # outside a block
    (H, "import math", "import os", False),
])
def test_outside_blocks_equal_compares_a_bundle_file_by_file(path, old, new, equal):
    files = dict(BUNDLE_FILES)
    files[path] = files[path].replace(old, new)
    assert outside_blocks_equal(PARENT, pack(files)) is equal


def test_outside_blocks_equal_refuses_other_file_sets_and_single_files():
    assert not outside_blocks_equal(PARENT, pack({**BUNDLE_FILES, "solver/x.py": "X = 1\n"}))
    assert not outside_blocks_equal(PARENT, BUNDLE_FILES[H])


# --- whatever the reply, a child keeps the rules ---------------------------------------------------

_LINES = PARENT.split("\n")


@settings(max_examples=150, deadline=None)
@given(start=st.integers(0, len(_LINES) - 1), length=st.integers(1, 3),
       name=st.sampled_from([None, H, S, M, "../x.py", "solver", "heuristic.py", "=== evoforge-file: solver/main.py ==="]),
       replace=st.lists(st.sampled_from(["SIZE = 1", "    return 0", "# EVOLVE-BLOCK-END", "", "def size():",
                                         "=== evoforge-file: solver/x.py ===", "import os", "    limit = 99"]),
                        max_size=3),
       mode=st.sampled_from(["diff", "full", "fix"]))
def test_any_edit_either_fails_with_a_reason_or_keeps_the_rules(start, length, name, replace, mode):
    search = "\n".join(_LINES[start:start + length])
    reply = (f"FILE: {name}\n" if name else "") + sr(search, "\n".join(replace))
    result = apply_reply(PARENT, reply, mode)
    if result.ok:
        assert child_violation(PARENT, result.code) is None
        assert outside_blocks_equal(PARENT, result.code)
        assert unpack(result.code)[M] == BUNDLE_FILES[M]
    else:
        assert result.code is None and result.reason


def test_code_that_assigns_a_path_is_not_a_file_name():
    assert parse_edits('path = "data/x.txt"\n' + EDIT_H)[0][0] is None
    assert parse_edits("file: data/x.txt\n" + EDIT_H)[0][0] == "data/x.txt"


def test_a_rewrite_without_fences_is_cut_at_its_file_lines():
    reply = f"FILE: {S}\n{NEW_S}"
    result = apply_reply(PARENT, reply, "full")
    assert result.ok and unpack(result.code)[S] == NEW_S
