from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutate_fixtures import CPP_MULTI, PY_MULTI, PY_SINGLE

from evoforge.mutate.blocks import find_blocks, outside_blocks_equal
from evoforge.mutate.edits import apply_reply
from evoforge.mutate.gbnf import GBNFSyntaxError, gbnf_to_regex, parse_gbnf
from evoforge.mutate.grammar import (
    _POOR_ANCHOR,
    gbnf_literal,
    search_replace_grammar,
    validate_gbnf,
)


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]

HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
TRICKY = [
    'msg = "say \\"hi\\"\\n"',          # quotes and backslashes
    "path = 'C:\\\\temp\\\\x'  # \\ end",
    "name = 'café ☕ 😀'",              # BMP and astral unicode
    "\tindented_with_tab = 1",
    "weird = '\x7f\x01'",              # control characters
    "x = '<<<' + '===' + '>>>'",
]
TRICKY_CODE = "import os\n# EVOLVE-BLOCK-START\n" + "\n".join(TRICKY) + "\n# EVOLVE-BLOCK-END\n"


def _reply(search: list[str], replace: list[str]) -> str:
    return ("<<<<<<< SEARCH\n" + "".join(s + "\n" for s in search) + "=======\n"
            + "".join(r + "\n" for r in replace) + ">>>>>>> REPLACE")


@pytest.mark.parametrize("text", TRICKY + ["", "\n", "\r\n", "\\", '"', "\U0010ffff"])
def test_literal_round_trips_through_gbnf_parser(text):
    lit = gbnf_literal(text)
    assert lit.isascii()
    assert gbnf_to_regex(f"root ::= {lit}").fullmatch(text)


def test_literal_escapes_exactly():
    assert gbnf_literal('a"b\\c\n') == '"a\\"b\\\\c\\n"'
    assert gbnf_literal("é😀\x01") == '"\\u00E9\\U0001F600\\x01"'


def test_grammar_accepts_real_lines_and_consecutive_runs():
    rx = gbnf_to_regex(search_replace_grammar(TRICKY_CODE))
    for line in TRICKY:
        assert rx.fullmatch(_reply([line], [_indent(line) + "y = 2"])), line
    assert rx.fullmatch(_reply(TRICKY[0:3], ["a = 1", "", "    b = 2"]))
    assert not rx.fullmatch(_reply([TRICKY[0], TRICKY[2]], ["y = 2"]))  # not consecutive
    assert not rx.fullmatch(_reply(TRICKY[0:4], ["y = 2"]))             # longer than 3 lines
    assert not rx.fullmatch(_reply(["import os"], ["y = 2"]))           # outside the block
    assert not rx.fullmatch(_reply(["msg = 1"], ["y = 2"]))             # not a real line


def test_grammar_replace_cannot_hold_markers_or_fences_and_reply_ends():
    rx = gbnf_to_regex(search_replace_grammar(TRICKY_CODE))
    for bad in ["=======", ">>>>>>> REPLACE", "<<<<<<< SEARCH", "```", "   ```python"]:
        assert not rx.fullmatch(_reply([TRICKY[0]], [bad]))
    assert not rx.fullmatch(_reply([TRICKY[0]], []))
    assert not rx.fullmatch(_reply([TRICKY[0]], ["a"]) + "\nmore text")
    assert not rx.fullmatch(_reply([TRICKY[0]], ["a"] * 7))  # at most 6 replace lines


def test_grammar_max_edits_and_multi_block():
    g = search_replace_grammar(PY_MULTI, max_edits=2, max_search_lines=1)
    rx = gbnf_to_regex(g)
    one = _reply(["    y = x * 3.0"], ["    y = x * 4.0"])
    two = _reply(["        c = a + b"], ["        c = a - b"])
    assert rx.fullmatch(one) and rx.fullmatch(one + "\n" + two)
    assert not rx.fullmatch(one + "\n" + two + "\n" + one)
    assert not rx.fullmatch(_reply(["    y = x * 3.0", "    z = y + 2"], ["x"]))  # 1-line SEARCH only
    # a run never spans two blocks
    g3 = gbnf_to_regex(search_replace_grammar(PY_MULTI))
    assert not g3.fullmatch(_reply(["    return y - z * 0.5", "        a = score(x)"], ["x"]))


def test_grammar_rejects_blockless_content_and_bad_args():
    with pytest.raises(ValueError):
        search_replace_grammar("# EVOLVE-BLOCK-START\n\n# EVOLVE-BLOCK-END\n")
    with pytest.raises(ValueError):
        search_replace_grammar(PY_SINGLE, max_edits=0)


_STMTS = st.sampled_from(["pass", "y = 1", "total += 1", "z = f(x) * 2.5"])


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([PY_SINGLE, PY_MULTI, CPP_MULTI, TRICKY_CODE]), st.data())
def test_property_every_grammar_reply_parses_and_applies(code, data):
    """Whatever the grammar lets through applies (SEARCH always matches) and keeps the
    outside bytes; the only way it fails is leaving the code unchanged."""
    language = "cpp" if code is CPP_MULTI else "python"
    rx = gbnf_to_regex(search_replace_grammar(code, language=language))
    block = data.draw(st.sampled_from([b for b in find_blocks(code) if b.text.strip()]))
    lines = [ln for ln in block.lines if ln.strip()]
    starts = [i for i, ln in enumerate(lines) if language != "python" or not _POOR_ANCHOR.match(ln)]
    i = data.draw(st.sampled_from(starts))
    n = data.draw(st.integers(1, min(3, len(lines) - i)))
    run = lines[i:i + n]
    first_indent = _indent(run[0])
    low = min((_indent(x) for x in run), key=len)
    replace = [first_indent + data.draw(_STMTS)]
    for _ in range(data.draw(st.integers(0, 3))):
        extra = data.draw(st.sampled_from(["", "    "]))
        replace.append(data.draw(st.sampled_from(["", low + extra + data.draw(_STMTS)])))
    reply = _reply(run, replace)
    assert rx.fullmatch(reply), reply
    res = apply_reply(code, reply, "diff")
    assert res.ok or "unchanged" in res.reason, res.reason
    if res.ok:
        assert outside_blocks_equal(code, res.code)


def test_grammar_pins_replacement_indentation():
    rx = gbnf_to_regex(search_replace_grammar(PY_SINGLE))
    search = ["        if i % 2 == 0:", "            total += step * 0.1"]
    assert rx.fullmatch(_reply(search, ["        if i % 3 == 0:", "            total += 1"]))
    assert not rx.fullmatch(_reply(search, ["            if i % 3 == 0:"]))  # first line shifted
    assert not rx.fullmatch(_reply(search, ["    if i % 3 == 0:"]))
    assert not rx.fullmatch(_reply(search, ["        x = 1", "    y = 2"]))  # below the run
    assert rx.fullmatch(_reply(["        else:", "            total -= 2"], ["        else:", "", "            total -= 3"]))


def test_python_grammar_forbids_comments_and_weak_anchors():
    rx = gbnf_to_regex(search_replace_grammar(PY_SINGLE))
    assert not rx.fullmatch(_reply(["    total = 0.5 * n"], ["    total = 0.6 * n  # better"]))
    assert not rx.fullmatch(_reply(["def pack(n):"], ["def pack(m):"]))
    assert not rx.fullmatch(_reply(['    """Return a score for n."""'], ["    pass"]))
    # still fine inside a run, and C++ grammars keep '#' and every anchor
    assert rx.fullmatch(_reply(["    total = 0.5 * n", '    step = total + 1.25  # tune me: 3'], ["    total = 1"]))
    cpp = gbnf_to_regex(search_replace_grammar(CPP_MULTI, language="cpp"))
    assert cpp.fullmatch(_reply(["double gain(double x) {"], ["double gain(double x) { // #1"]))


def test_grammar_line_length_cap():
    rx = gbnf_to_regex(search_replace_grammar(PY_SINGLE, max_line_chars=20))
    assert rx.fullmatch(_reply(["    total = 0.5 * n"], ["    total = 0.6 * n"]))
    assert not rx.fullmatch(_reply(["    total = 0.5 * n"], ["    total = " + "1 + " * 10 + "n"]))


def test_grammar_for_100_line_block_is_small_and_fast():
    body = "\n".join(f"    x{i} = compute(x{i - 1}, {i}) * 0.{i:02d}  # step {i}" for i in range(1, 101))
    code = f"def f(x0):\n    # EVOLVE-BLOCK-START\n{body}\n    # EVOLVE-BLOCK-END\n    return x100\n"
    t = time.perf_counter()
    g = search_replace_grammar(code)
    parse_gbnf(g)
    assert time.perf_counter() - t < 1.0
    assert len(g) < 20000 and g.count("\n") < 230


def test_builtin_parser_rejects_broken_grammars():
    for bad in ['root ::= "a', "root ::= foo", 'x ::= "a"', 'root ::= "\\q"', "root ::= [a-"]:
        with pytest.raises(GBNFSyntaxError):
            parse_gbnf(bad)
    with pytest.raises(ValueError):
        validate_gbnf('root ::= "unterminated')


def test_builtin_parser_features():
    rx = gbnf_to_regex('root ::= "a" b{2,3} ( "x" | [0-9]+ )?\nb ::= [^\\n\\]] # comment\n')
    assert rx.fullmatch("a..") and rx.fullmatch("a...x") and rx.fullmatch("a..42")
    assert not rx.fullmatch("a.") and not rx.fullmatch("a.]")


@pytest.mark.skipif(not HAS_LLAMA, reason="llama_cpp not importable")
def test_grammars_compile_in_llama_cpp():
    for code in (PY_SINGLE, PY_MULTI, CPP_MULTI, TRICKY_CODE):
        assert validate_gbnf(search_replace_grammar(code, max_edits=2)) in ("llama.cpp", "builtin")
    body = "\n".join(f"    x{i} = x{i - 1} * 1.{i}" for i in range(1, 101))
    t = time.perf_counter()
    validate_gbnf(search_replace_grammar(f"# EVOLVE-BLOCK-START\n{body}\n# EVOLVE-BLOCK-END\n"))
    assert time.perf_counter() - t < 10


@pytest.mark.skipif(not HAS_LLAMA, reason="llama_cpp not importable")
def test_llama_cpp_rejects_broken_grammar(monkeypatch):
    if validate_gbnf('root ::= "ok"') != "llama.cpp":
        pytest.skip("no GGUF vocabulary available for llama.cpp's parser")
    from evoforge.mutate import grammar

    monkeypatch.setattr(grammar, "parse_gbnf", lambda text: {})  # only llama.cpp checks now
    with pytest.raises(ValueError, match="llama.cpp rejected"):
        grammar.validate_gbnf("root ::= undefined-rule")


@pytest.mark.embedded
@pytest.mark.skipif(not (HAS_LLAMA and os.environ.get("EVOFORGE_EMBEDDED_TESTS")),
                    reason="set EVOFORGE_EMBEDDED_TESTS=1 to run the real SmolLM2 model")
def test_smollm2_with_grammar_always_yields_applicable_edits():
    script = os.path.join(os.path.dirname(__file__), "smollm_grammar_probe.py")
    out = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=600, check=False,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, f"probe crashed (rc={out.returncode}): {out.stderr[-2000:]}"
    assert "APPLIED 5/5" in out.stdout, out.stdout  # every grammar reply applies (or is a no-op)


@pytest.mark.embedded
@pytest.mark.skipif(not (HAS_LLAMA and os.environ.get("EVOFORGE_EMBEDDED_TESTS")),
                    reason="set EVOFORGE_EMBEDDED_TESTS=1 to run the real SmolLM2 model")
def test_smollm2_with_a_folder_programs_grammars_names_files_that_apply():
    """Measured on 2 loaded CPU cores (6 samples each): diff 5/6 applied (1 no-op), tweak 6/6, ~23 s a reply."""
    script = os.path.join(os.path.dirname(__file__), "smollm_grammar_probe.py")
    out = subprocess.run([sys.executable, script, "3", "--bundle"], capture_output=True, text=True, timeout=900,
                         check=False, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert out.returncode == 0, f"probe crashed (rc={out.returncode}): {out.stderr[-2000:]}"
    assert "BUNDLE APPLIED 6/6" in out.stdout, out.stdout


def test_runs_never_skip_a_line_that_cannot_be_a_literal():
    code = "# EVOLVE-BLOCK-START\nx = 1\n```weird\ny = 2\nz = 3\n# EVOLVE-BLOCK-END\n"
    rx = gbnf_to_regex(search_replace_grammar(code))
    assert not rx.fullmatch(_reply(["x = 1", "y = 2"], ["q = 1"]))  # would not match the code
    assert rx.fullmatch(_reply(["y = 2", "z = 3"], ["q = 1"]))
