from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutate_fixtures import CPP_MULTI, PY_MULTI, PY_SINGLE

from evoforge.mutate.blocks import find_blocks, outside_blocks_equal
from evoforge.mutate.edits import check_syntax
from evoforge.mutate.operators import (
    OPERATORS,
    apply_operator,
    crossover_blocks,
    delete_statement,
    duplicate_statement,
    perturb_constants,
    swap_statements,
)

SEMI = """# EVOLVE-BLOCK-START
a = 1; b = 2
c = 3
e = c + 5
if c:
    d = 4
# EVOLVE-BLOCK-END
"""
PROGRAMS = [PY_SINGLE, PY_MULTI, SEMI, "x = 1\ny = x * 2.5\nprint(y)\n"]


def _numbers(text: str) -> list[str]:
    return re.findall(r"\d+\.?\d*", text)


@pytest.mark.parametrize("name", ["perturb", "swap", "duplicate", "delete"])
@pytest.mark.parametrize("code", PROGRAMS)
def test_single_parent_operators_are_valid_and_deterministic(name, code):
    results = [apply_operator(name, code, random.Random(seed)) for seed in range(12)]
    assert any(r is not None for r in results), f"{name} never applied"
    for r in results:
        if r is not None:
            assert r != code and check_syntax(r) is None and outside_blocks_equal(code, r)
    again = [apply_operator(name, code, random.Random(seed)) for seed in range(12)]
    assert again == results


def test_perturb_leaves_strings_comments_and_outside_alone():
    for seed in range(40):
        child = perturb_constants(PY_SINGLE, random.Random(seed))
        assert child is not None
        assert '"weight 7.5"' in child and "# tune me: 3" in child and "pack(26)  # 26 circles" in child
        assert '"""Return a score for n."""' in child


def test_perturb_int_float_kinds_and_magnitudes():
    code = "# EVOLVE-BLOCK-START\nx = 100\ny = -2.5\nz = 0\nw = 0.0\nm = 0xFF\nc = 2j\n# EVOLVE-BLOCK-END\n"
    seen = {"x": set(), "y": set(), "z": set(), "w": set()}
    for seed in range(200):
        child = perturb_constants(code, random.Random(seed), scale=0.1)
        assert "m = 0xFF" in child and "c = 2j" in child
        values = dict(re.findall(r"^(\w) = (.+)$", child, re.MULTILINE))
        for k, bucket in seen.items():
            bucket.add(values[k])
    xs = {int(v) for v in seen["x"]}
    assert all(90 <= v <= 110 for v in xs) and len(xs) > 3  # ints stay ints, within ±10%
    ys = {float(v) for v in seen["y"]}
    assert all(v < 0 for v in ys)  # the unary minus is kept
    assert all(re.fullmatch(r"-\d+\.\d+(e-?\d+)?", v) for v in seen["y"])
    assert seen["z"] - {"0"}, "0 must be able to move"
    assert all(v.isdigit() for v in seen["z"])
    assert all("." in v or "e" in v for v in seen["w"])


def test_perturb_cpp_numbers_only_in_code():
    for seed in range(30):
        child = apply_operator("perturb", CPP_MULTI, random.Random(seed), language="cpp")
        assert child is not None and outside_blocks_equal(CPP_MULTI, child)
        assert '"keep 42 here"' in child and "// and 7 here" in child
        assert check_syntax(child, "cpp") is None
    assert apply_operator("swap", CPP_MULTI, random.Random(0), language="cpp") is None


def test_swap_keeps_semicolon_lines_and_swaps_adjacent():
    child = swap_statements(SEMI, random.Random(0))
    assert child is not None and "a = 1; b = 2\n" in child
    assert "e = c + 5\nc = 3\n" in child  # the only swappable pair


def test_delete_lone_statement_becomes_pass():
    code = "# EVOLVE-BLOCK-START\nif True:\n    x = 1\n# EVOLVE-BLOCK-END\n"
    outs = {delete_statement(code, random.Random(s)) for s in range(10)}
    assert "# EVOLVE-BLOCK-START\nif True:\n    pass\n# EVOLVE-BLOCK-END\n" in outs


def test_statement_ops_never_touch_defs_returns_or_docstrings():
    for seed in range(30):
        for op in (delete_statement, duplicate_statement):
            child = op(PY_SINGLE, random.Random(seed))
            if child is not None:
                assert child.count("def pack(n):") == 1
                assert child.count('"""Return a score for n."""') == 1
                assert child.count("return total") == 1


def test_duplicate_adds_one_line():
    child = duplicate_statement(PY_SINGLE, random.Random(3))
    assert child.count("\n") == PY_SINGLE.count("\n") + 1


def test_unparseable_or_blockless_input():
    assert perturb_constants("def (:\n  1\n", random.Random(0)) is None
    assert swap_statements("def (:\n", random.Random(0)) is None
    code = "# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\nx = 1\ny = 2.5\n"
    for name in ("perturb", "swap", "duplicate", "delete"):
        assert apply_operator(name, code, random.Random(0)) is None


def test_crossover_multi_block_takes_blocks_from_both():
    other = PY_MULTI.replace("y = x * 3.0", "y = x * 9.0").replace("c = a + b", "c = a - b")
    outs = {crossover_blocks(PY_MULTI, other, random.Random(s)) for s in range(20)} - {None}
    assert outs
    for child in outs:
        assert child not in (PY_MULTI, other) and outside_blocks_equal(PY_MULTI, child)
        texts = [b.text for b in find_blocks(child)]
        assert ("9.0" in texts[0]) != ("a - b" in texts[1])


def test_crossover_single_block_splice():
    other = PY_SINGLE.replace("0.5 * n", "0.25 * n").replace("total -= 2", "total -= 3")
    outs = {crossover_blocks(PY_SINGLE, other, random.Random(s)) for s in range(20)} - {None}
    assert outs
    for child in outs:
        assert check_syntax(child) is None and outside_blocks_equal(PY_SINGLE, child)
        assert "0.5 * n" in child and "total -= 3" in child  # head from a, tail from b


def test_crossover_outside_comes_from_first_parent_and_mismatch_is_none():
    other = PY_SINGLE.replace("pack(26)", "pack(27)").replace("total -= 2", "total -= 5")
    child = crossover_blocks(PY_SINGLE, other, random.Random(0))
    assert child is not None and "pack(26)" in child and outside_blocks_equal(PY_SINGLE, child)
    assert crossover_blocks(PY_SINGLE, PY_MULTI, random.Random(0)) is None
    assert crossover_blocks(PY_SINGLE, PY_SINGLE, random.Random(0)) is None
    assert apply_operator("crossover", PY_SINGLE, random.Random(0)) is None  # no other parent


def test_crossover_cpp_blocks():
    other = CPP_MULTI.replace("x * 1.5 + 3", "x * 4.5").replace("int n = 10;", "int n = 20;")
    child = apply_operator("crossover", CPP_MULTI, random.Random(1), other=other, language="cpp")
    assert child is not None and outside_blocks_equal(CPP_MULTI, child)
    assert ("x * 4.5" in child) != ("n = 20" in child)


def test_registry():
    assert set(OPERATORS) == {"perturb", "swap", "duplicate", "delete", "crossover"}
    with pytest.raises(KeyError):
        apply_operator("mutate-everything", PY_SINGLE, random.Random(0))


_STMT = st.sampled_from([
    "x = x + 1", "y = x * 2.5", "x, y = y, x", "z = [i * 0.5 for i in range(3)]",
    "if x > 2:\n    y = 1\nelse:\n    y = 2", "for i in range(2):\n    x += i\n    y -= 0.1",
    "s = 'a # 1.5'  # 7", "while x > 100:\n    x //= 2", "print(x, y)",
])


@settings(max_examples=150, deadline=None)
@given(st.lists(_STMT, min_size=1, max_size=6), st.integers(0, 2**32), st.booleans(),
       st.sampled_from(sorted(OPERATORS)))
def test_property_operators_valid_or_none(stmts, seed, nested, name):
    """Any operator on any program: None, or code that compiles, differs and keeps the outside."""
    body = "\n".join(stmts)
    if nested:
        body = "\n".join("    " + ln for ln in body.split("\n"))
        code = f"x, y = 1, 2\ndef f(x, y):\n    # EVOLVE-BLOCK-START\n{body}\n    # EVOLVE-BLOCK-END\n    return x\n"
    else:
        code = f"x, y = 1, 2\n# EVOLVE-BLOCK-START\n{body}\n# EVOLVE-BLOCK-END\nprint(x)\n"
    other = code.replace("2.5", "3.5").replace("x + 1", "x + 2")
    child = apply_operator(name, code, random.Random(seed), other=other)
    if child is not None:
        assert child != code and check_syntax(child) is None and outside_blocks_equal(code, child)
        assert set(re.findall(r"'a #[^']*'", child)) <= {"'a # 1.5'"}  # strings untouched
        assert set(re.findall(r"#\s*[\d.]+$", child, re.MULTILINE)) <= {"# 7"}  # comments untouched
