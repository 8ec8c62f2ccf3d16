"""Tweak grammars only write numbers Python accepts: an integer such as ``01`` is a SyntaxError,
and in a real embedded run on examples/function_minimization 7 of 20 model calls were lost to
tweaks like ``rng.gauss(01, step)``."""
from __future__ import annotations

import ast
import re

from evoforge.mutate.gbnf import gbnf_to_regex
from evoforge.mutate.tweak import tweak_grammar

CODE = """# EVOLVE-BLOCK-START
def f(x):
    a = g(0, x) + 20
    return a * 1.5 + 7
# EVOLVE-BLOCK-END
"""


def replacement(edit: str) -> str:
    return edit.split("=======\n", 1)[1].rsplit("\n>>>>>>> REPLACE", 1)[0]


def test_no_integer_with_a_leading_zero():
    regex = gbnf_to_regex(tweak_grammar(CODE))
    line = "    a = g(0, x) + 20"
    for new in ("01", "00", "05", "020", "007"):
        for edit in (line.replace("g(0,", f"g({new},"), line.replace("+ 20", f"+ {new}")):
            text = f"<<<<<<< SEARCH\n{line}\n=======\n{edit}\n>>>>>>> REPLACE\n"
            assert not regex.fullmatch(text), edit
    for new in ("1", "9", "10", "35"):
        edit = line.replace("+ 20", f"+ {new}")
        text = f"<<<<<<< SEARCH\n{line}\n=======\n{edit}\n>>>>>>> REPLACE\n"
        assert regex.fullmatch(text), edit
        ast.parse(edit.strip())


def test_floats_keep_their_shapes():
    regex = gbnf_to_regex(tweak_grammar(CODE))
    line = "    return a * 1.5 + 7"
    for edit in ("    return a * 0.5 + 7", "    return a * 12.25 + 7", "    return a * 1.5 + 0"):
        text = f"<<<<<<< SEARCH\n{line}\n=======\n{edit}\n>>>>>>> REPLACE\n"
        assert regex.fullmatch(text), edit
        ast.parse(edit.strip())
    assert re.search(r"\[1-9\]", tweak_grammar(CODE))
