"""Folder programs (issue 19) through the other edit paths: zero-cost operators and crossover work
one file at a time in its own language, the GBNF grammars (diff and tweak) and the JSON schema make
each edit name a file and a line of that file, and prompts show each file with its path (frozen
files read-only, or left out of a small model's prompt). Every child keeps the frozen file
byte-identical and each file's outside-block text."""
from __future__ import annotations

import json
import random

import pytest
from mutate_fixtures import BUNDLE_FILES, PY_SINGLE

from evoforge.bundle import changed_files, pack, unpack
from evoforge.bundle_rules import child_violation, syntax_error
from evoforge.engine.proposer import ParentView, operator_child
from evoforge.mutate.blocks import outside_blocks_equal
from evoforge.mutate.constants import perturb_constants
from evoforge.mutate.edits import apply_reply
from evoforge.mutate.gbnf import gbnf_to_regex
from evoforge.mutate.grammar import search_replace_grammar, validate_gbnf
from evoforge.mutate.operators import apply_operator
from evoforge.mutate.prompts import LARGE_PROGRAM_BUDGET, build_messages
from evoforge.mutate.schema_edits import candidate_lines, edit_from_json, edit_schema
from evoforge.mutate.tweak import numeric_lines, tweak_grammar
from evoforge.program import AttemptStatus

PARENT = pack(BUNDLE_FILES)
H, S, M = "solver/heuristic.py", "solver/structure.py", "solver/main.py"


def good(parent: str, child: str | None) -> list[str]:
    """The files a child changed, after checking the rules every child keeps."""
    assert child is not None
    assert child_violation(parent, child) is None and outside_blocks_equal(parent, child)
    assert syntax_error(child, "python") is None
    return changed_files(parent, child)


# --- zero-cost operators ------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["perturb", "duplicate", "delete"])
def test_operators_change_one_editable_file_and_rotate_over_files(name):
    touched = set()
    for seed in range(24):
        child = apply_operator(name, PARENT, random.Random(seed))
        if child is not None:
            changed = good(PARENT, child)
            assert len(changed) == 1 and M not in changed
            touched.update(changed)
    assert touched == {H, S}


def test_an_operator_is_deterministic_per_seed():
    assert apply_operator("perturb", PARENT, random.Random(7)) == apply_operator("perturb", PARENT, random.Random(7))


def test_perturb_constants_on_a_bundle_directly():
    child = perturb_constants(PARENT, random.Random(3))
    assert len(good(PARENT, child)) == 1


def test_each_file_is_read_in_its_own_language():
    files = {"native/gain.c": "#include <stdio.h>\n// EVOLVE-BLOCK-START\ndouble gain(double x) { return x * 1.5 + 3; }\n"
                              "// EVOLVE-BLOCK-END\nint main(void) { printf(\"%f\", gain(2)); return 0; }\n",
             "run.py": "import subprocess\n\n\ndef run():\n    return subprocess.run(['./gain'])\n"}
    parent = pack(files)
    children = [apply_operator("perturb", parent, random.Random(s)) for s in range(6)]
    assert all(good(parent, c) == ["native/gain.c"] for c in children)
    # statement operators need Python, and the only editable file is C
    assert apply_operator("swap", parent, random.Random(0)) is None
    assert apply_operator("delete", parent, random.Random(0)) is None


def test_an_operator_with_nothing_to_change_returns_none():
    files = {**BUNDLE_FILES, H: "import math\n\n# EVOLVE-BLOCK-START\ndef weight(x):\n    return x\n# EVOLVE-BLOCK-END\n",
             S: "# EVOLVE-BLOCK-START\ndef make():\n    return []\n# EVOLVE-BLOCK-END\n"}
    assert apply_operator("perturb", pack(files), random.Random(0)) is None


def test_the_engines_operator_path_accepts_the_child():
    draft = operator_child("perturb", ParentView("p", PARENT, 1.0), None, random.Random(1), "python")
    assert draft.status is AttemptStatus.PENDING and len(good(PARENT, draft.code)) == 1


def _other(**changes: tuple[str, str]) -> str:
    files = dict(BUNDLE_FILES)
    for path, (old, new) in changes.items():
        files[path] = files[path].replace(old, new)
    return pack(files)


def test_crossover_mixes_whole_files_when_several_differ():
    other = _other(**{H: ("x * 2.5", "x * 9.5"), S: ("SIZE = 8", "SIZE = 99")})
    kinds = set()
    for seed in range(12):
        child = apply_operator("crossover", PARENT, random.Random(seed), other=other)
        changed = good(PARENT, child)
        assert len(changed) == 1
        assert unpack(child)[changed[0]] == unpack(other)[changed[0]]
        kinds.update(changed)
    assert kinds == {H, S}


def test_crossover_splices_the_one_file_that_differs():
    other = _other(**{S: ("    limit = 10\n    return [0] * min(SIZE, limit)", "    limit = 3\n    return [2] * limit")})
    child = apply_operator("crossover", PARENT, random.Random(0), other=other)
    assert good(PARENT, child) == [S] and child != other


def test_crossover_with_other_files_or_no_difference_gives_none():
    assert apply_operator("crossover", PARENT, random.Random(0), other=PARENT) is None
    assert apply_operator("crossover", PARENT, random.Random(0), other=pack({**BUNDLE_FILES, "x.py": "X = 1\n"})) is None
    assert apply_operator("crossover", PARENT, random.Random(0), other=PY_SINGLE) is None


def test_crossover_never_takes_the_other_parents_frozen_file():
    other = _other(**{M: ("+ 0.5", "+ 100"), S: ("SIZE = 8", "SIZE = 99")})
    child = apply_operator("crossover", PARENT, random.Random(0), other=other)
    assert child is None or unpack(child)[M] == BUNDLE_FILES[M]


# --- grammars and schemas -----------------------------------------------------------------------

def _edit(path: str, search: str, replace: str) -> str:
    return f"FILE: {path}\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


def test_the_diff_grammar_pairs_each_file_with_its_own_lines():
    grammar = search_replace_grammar(PARENT)
    assert validate_gbnf(grammar, use_llama=False) == "builtin"
    rx = gbnf_to_regex(grammar)
    good_edits = [_edit(H, "    return min(limit, x * 2.5)", "    return min(limit, x * 3.0)"),
                  _edit(S, "SIZE = 8", "SIZE = 12"),
                  _edit(S, "    limit = 10", "    limit = 12")]
    for text in good_edits:
        assert rx.fullmatch(text), text
        result = apply_reply(PARENT, text, "diff")
        assert result.ok, result.reason
        good(PARENT, result.code)
    for text in [_edit(H, "SIZE = 8", "SIZE = 12"),                        # S's line under H
                 _edit(M, "def solve():", "def solve2():"),                  # the frozen file
                 _edit("../x.py", "SIZE = 8", "SIZE = 12"),
                 "<<<<<<< SEARCH\nSIZE = 8\n=======\nSIZE = 12\n>>>>>>> REPLACE"]:  # no file line
        assert not rx.fullmatch(text), text


def test_the_diff_grammar_is_accepted_by_llama_cpp_when_present():
    assert validate_gbnf(search_replace_grammar(PARENT)) in ("llama.cpp", "builtin")


def test_the_single_file_grammar_has_no_file_line():
    assert "FILE:" not in search_replace_grammar(PY_SINGLE)


def test_the_tweak_grammar_names_file_and_line_and_files_rotate():
    grammar = tweak_grammar(PARENT)
    rx = gbnf_to_regex(grammar)
    text = _edit(S, "SIZE = 8", "SIZE = 9") + "\n"
    assert rx.fullmatch(text)
    result = apply_reply(PARENT, text, "diff")
    assert result.ok and good(PARENT, result.code) == [S]
    assert not rx.fullmatch(_edit(H, "SIZE = 8", "SIZE = 9") + "\n")
    # a line shared by two files is tweaked in the file the edit names
    shared = _edit(H, "    limit = 10", "    limit = 11") + "\n"
    assert rx.fullmatch(shared) and good(PARENT, apply_reply(PARENT, shared, "diff").code) == [H]
    # once every line of S is tweaked, only H is offered
    rotated = tweak_grammar(PARENT, exclude={"SIZE = 8", "    limit = 10", "    return [0] * min(SIZE, limit)"})
    assert "solver/structure.py" not in rotated and "solver/heuristic.py" in rotated
    assert "FILE: solver/heuristic.py" in rotated.replace("\\n", "\n")


def test_the_tweak_grammar_shares_its_line_budget_between_files():
    grammar = tweak_grammar(PARENT, max_lines=2)
    assert "solver/heuristic.py" in grammar and "solver/structure.py" in grammar


def test_numeric_lines_skip_the_frozen_file():
    assert "    return weight(len(make())) + 0.5" not in numeric_lines(PARENT)
    assert "SIZE = 8" in numeric_lines(PARENT)


def test_the_schema_offers_lines_unique_in_the_folder_and_the_reply_names_its_file():
    lines = candidate_lines(PARENT)
    assert "SIZE = 8" in lines and "    limit = 10" not in lines  # in two files: not unique
    assert all(line not in BUNDLE_FILES[M] for line in lines)
    assert edit_schema(PARENT)["properties"]["search"]["enum"] == lines
    edit = edit_from_json(json.dumps({"search": "SIZE = 8", "replace": "SIZE = 10"}), PARENT)
    assert edit.startswith("FILE: solver/structure.py\n<<<<<<< SEARCH\nSIZE = 8\n")
    result = apply_reply(PARENT, edit, "diff")
    assert result.ok and good(PARENT, result.code) == [S]


# --- prompts --------------------------------------------------------------------------------------

def _prompt(profile: str, mode: str = "diff", code: str = PARENT, insp: list[dict] | None = None,
            other: str | None = None) -> str:
    messages = build_messages(task_description="Make solve() large.", parent_code=code, parent_score=1.0,
                              parent_feedback="", mode=mode, inspirations=insp or [], insights=[],
                              profile=profile, direction="maximize", other_parent_code=other)
    return messages[-1]["content"]


def test_a_large_prompt_shows_each_file_with_its_path_and_marks_the_frozen_one():
    text = _prompt("large")
    assert f"FILE: {H} (editable)\n```python\n" in text and f"FILE: {S} (editable)" in text
    assert f"FILE: {M} (read-only)\n```python\nfrom solver.heuristic import weight" in text
    assert "Start each edit with a line FILE: path" in text and "FILE: demo/other.py\n<<<<<<< SEARCH" in text


def test_an_empty_file_is_named_as_empty():
    text = _prompt("large", code=pack({**BUNDLE_FILES, "solver/__init__.py": ""}))
    assert "FILE: solver/__init__.py (read-only): an empty file" in text


def test_a_large_prompt_lists_frozen_files_by_name_when_the_folder_is_big():
    files = {**BUNDLE_FILES, "solver/data.py": "TABLE = [\n" + "    1,\n" * (LARGE_PROGRAM_BUDGET // 6) + "]\n"}
    text = _prompt("large", code=pack(files))
    assert "FILE: solver/data.py (read-only, not shown)" in text and "TABLE" not in text
    assert f"FILE: {M} (read-only, not shown)" in text
    assert "def weight(x):" in text and "SIZE = 8" in text


def test_a_small_prompt_shows_only_the_editable_files_blocks():
    text = _prompt("small")
    assert f"FILE: {H}\ndef weight(x):" in text and f"FILE: {S}\nSIZE = 8" in text
    assert M not in text and "import math" not in text and "def size" not in text
    assert "Start with FILE:" in text


def test_other_programs_show_only_the_files_that_differ():
    other = pack({**BUNDLE_FILES, H: BUNDLE_FILES[H].replace("2.5", "3.5")})
    text = _prompt("large", mode="crossover", insp=[{"code": other, "score": 2.0, "feedback": ""}], other=other)
    second = text.split("# Second parent")[1].split("# Other program 1")[0]
    assert "x * 3.5" in second and "SIZE" not in second and "files not shown are as in the current program" in second
    assert "For each file you change, write a line FILE: path" in text


@pytest.mark.parametrize("mode", ["tweak", "full", "fix"])
def test_every_model_kind_asks_for_the_file_line(mode):
    for profile in ("small", "large"):
        text = _prompt(profile, mode=mode)
        assert "FILE:" in text


def test_constrained_tweaks_through_the_engine_rotate_over_the_files():
    """The engine's model path (schema-constrained, as for Ollama/vLLM): each tweak names a line, the
    next ask from the same parent leaves it out, so once heuristic.py's line is tweaked the edits
    move on to structure.py; every child names its file and keeps the rules."""
    import re

    from evoforge.engine.proposer import ModelRequest, model_child
    from evoforge.llm import create_provider
    from evoforge.testing.openai_server import ScriptedOpenAIServer

    def first_line(request: dict) -> str:
        line = request["response_format"]["json_schema"]["schema"]["properties"]["search"]["enum"][0]
        return json.dumps({"search": line, "replace": re.sub(r"\d+(\.\d+)?", lambda m: "1" + m.group(0), line, count=1)})

    tweaked: set[str] = set()
    changed = []
    with ScriptedOpenAIServer(responder=first_line) as srv:
        provider = create_provider(f"ollama/tiny@{srv.base_url}")
        for seed in (1, 2, 3):
            req = ModelRequest(kind="tweak", parent=ParentView("p", PARENT, 1.0), inspirations=[], other=None,
                               task_description="make solve() larger", direction="maximize", language="python",
                               profile="small", temperature=0.7, max_tokens=200, seed=seed, constrained=True,
                               insights=[], failure_note=None, diff_retries=0, tweaked_lines=tweaked)
            draft = model_child(req, provider, cost_of=lambda r: 0.0, allow_extra_call=lambda: True,
                                on_call=lambda c: None, seen_replies=set())
            assert draft.status is AttemptStatus.PENDING, draft.reason
            changed.append(good(PARENT, draft.code))
        enums = [r["response_format"]["json_schema"]["schema"]["properties"]["search"]["enum"] for r in srv.requests]
        prompts = [r["messages"][-1]["content"] for r in srv.requests]
    assert enums == [["    return min(limit, x * 2.5)", "SIZE = 8", "    return [0] * min(SIZE, limit)"],
                     ["SIZE = 8", "    return [0] * min(SIZE, limit)"], ["    return [0] * min(SIZE, limit)"]]
    assert changed == [[H], [S], [S]]
    assert all(f"FILE: {H}" in p and M not in p for p in prompts)
