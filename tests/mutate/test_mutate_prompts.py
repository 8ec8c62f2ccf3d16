from __future__ import annotations

import pytest
from mutate_fixtures import PY_MULTI, PY_SINGLE

from evoforge.mutate.edits import apply_reply
from evoforge.mutate.prompts import (
    EXAMPLES,
    build_messages,
    is_template_echo,
    profile_for,
    retry_messages,
)

BLOCK_40 = "\n".join(f"    v{i} = v{i - 1} + {i % 7}" for i in range(1, 41))  # ~17 chars a line
CODE_40 = f"import math\n\ndef run(v0):\n    # EVOLVE-BLOCK-START\n{BLOCK_40}\n    # EVOLVE-BLOCK-END\n    return v40\n"


def _msgs(**kw):
    args = {"task_description": "Pack 26 circles in a unit square to maximize the sum of radii.",
                "parent_code": CODE_40, "parent_score": 2.51, "parent_feedback": "valid; 3 circles touch",
                "mode": "diff", "inspirations": [], "insights": ["bigger corner circles helped"],
                "profile": "small", "direction": "maximize"}
    args.update(kw)
    return build_messages(**args)


def _size(messages) -> int:
    return sum(len(m["content"]) for m in messages)


def test_small_diff_prompt_is_tiny_and_block_only():
    msgs = _msgs()
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert _size(msgs) <= 1200, _size(msgs)
    user = msgs[1]["content"]
    assert BLOCK_40 in user
    assert "import math" not in user and "return v40" not in user and "EVOLVE-BLOCK" not in user
    assert "2.51 (higher is better)" in user and "3 circles touch" in user
    assert "bigger corner circles" not in user  # insights are for large models


def test_small_prompt_overhead_bounded_even_with_long_texts():
    msgs = _msgs(task_description="word " * 500, parent_feedback="trace " * 500, failure_note="e " * 500)
    assert _size(msgs) - len(BLOCK_40) <= 800


def test_small_example_is_not_the_programs_code_and_echo_is_detected():
    user = _msgs()[1]["content"]
    search, replace = EXAMPLES[0]
    assert search in user and search.strip() not in CODE_40
    echo = f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"
    assert is_template_echo(echo)
    assert not apply_reply(CODE_40, echo, "diff").ok
    assert not is_template_echo("<<<<<<< SEARCH\n    v1 = v0 + 1\n=======\n    v1 = v0 + 2\n>>>>>>> REPLACE")


def test_example_switches_when_parent_uses_its_names():
    parent = CODE_40.replace("v40", "_demo_total")
    user = _msgs(parent_code=parent)[1]["content"]
    assert EXAMPLES[1][0] in user and EXAMPLES[0][0] not in user
    assert not is_template_echo("x = _demo_total", parent_code=parent)


def test_small_at_most_one_inspiration():
    insp = [{"code": CODE_40.replace("+ 3", "+ 4"), "score": 2.6, "feedback": "ok"},
            {"code": "x = 'SECOND_INSPIRATION'\n", "score": 2.7, "feedback": ""}]
    user = _msgs(inspirations=insp)[1]["content"]
    assert "2.6" in user and "SECOND_INSPIRATION" not in user


def test_small_modes():
    full = _msgs(mode="full")[1]["content"]
    assert "```python" in full and "SEARCH" not in full
    fix = _msgs(mode="fix", failure_note="NameError: name 'v41' is not defined")[1]["content"]
    assert "Error: NameError" in fix and "fixes the error" in fix
    cross = _msgs(mode="crossover", other_parent_code=CODE_40.replace("v0 + 1", "v0 * 9"))[1]["content"]
    assert "Code A" in cross and "v0 * 9" in cross
    minimize = _msgs(direction="minimize", parent_score=None)[1]["content"]
    assert "none yet (lower is better)" in minimize


def test_multi_block_small_view_shows_each_block():
    user = _msgs(parent_code=PY_MULTI)[1]["content"]
    assert "def score(x):" in user and "a = score(x)" in user and "\n...\n" in user
    assert "class Runner" not in user


def test_large_profile_full_file_inspirations_insights():
    insp = [{"code": f"# program {i}\n", "score": float(i), "feedback": f"fb{i}"} for i in range(5)]
    msgs = _msgs(profile="large", inspirations=insp, failure_note="SEARCH not found")
    user = msgs[1]["content"]
    assert CODE_40.rstrip() in user and "EVOLVE-BLOCK-START" in user
    assert "# program 2" in user and "# program 3" not in user and "fb1" in user
    assert "bigger corner circles helped" in user and "SEARCH not found" in user
    assert "<<<<<<< SEARCH" in user
    large_full = _msgs(profile="large", mode="crossover", other_parent_code="OTHER = 1\n")[1]["content"]
    assert "OTHER = 1" in large_full and "complete program" in large_full


@pytest.mark.parametrize("kw", [{"mode": "patch"}, {"profile": "medium"}, {"direction": "up"},
                                {"mode": "crossover"}])
def test_bad_arguments_raise(kw):
    with pytest.raises(ValueError):
        _msgs(**kw)


def test_retry_messages_extend_conversation():
    msgs = _msgs()
    out = retry_messages(msgs, "<<<<<<< SEARCH\nfoo\n=======\nbar\n>>>>>>> REPLACE",
                         "Edit 1: SEARCH text not found in the code. Closest (line 5):\n    v1 = v0 + 1")
    assert out[:2] == msgs and len(msgs) == 2
    assert out[2]["role"] == "assistant" and out[3]["role"] == "user"
    assert "v1 = v0 + 1" in out[3]["content"] and "Edit 1" in out[3]["content"]
    echo = retry_messages(msgs, f"<<<<<<< SEARCH\n{EXAMPLES[0][0]}\n=======\nx\n>>>>>>> REPLACE", "not found")
    assert "copied the example" in echo[3]["content"]


@pytest.mark.parametrize("ctx, name, expected", [
    (8192, "SmolLM2-135M-Instruct", "small"),
    (32768, "gemma3-270m", "small"),
    (32768, "Qwen2.5-0.5B-Instruct", "small"),
    (131072, "llama-3.2-1b-instruct", "small"),
    (4096, "gpt-4o", "small"),
    (131072, "Qwen2.5-Coder-7B-Instruct", "large"),
    (200000, "claude-sonnet-4", "large"),
    (128000, "gpt-4o-mini", "large"),
])
def test_profile_for(ctx, name, expected):
    assert profile_for(ctx, name) == expected


def test_single_block_example_prompt_works_for_py_single():
    user = _msgs(parent_code=PY_SINGLE)[1]["content"]
    assert "def pack(n):" in user and "def main" not in user
