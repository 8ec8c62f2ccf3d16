"""Prompts, edit formats and their tolerant application, grammars and zero-cost operators.

Everything here respects one invariant: code outside the EVOLVE-BLOCKs of a parent is
byte-identical in every child (see `blocks`). A folder program (a bundle, `evoforge.bundle`)
goes through the same entry points, file by file: edits name their file (`bundle_edits`),
operators change one file at a time (`bundle_ops`), and its frozen files (no blocks) never change.
"""
from evoforge.mutate.blocks import (
    Block,
    find_blocks,
    outside_blocks_equal,
    replace_blocks,
)
from evoforge.mutate.edits import (
    EditError,
    EditResult,
    apply_reply,
    apply_search_replace,
    check_syntax,
    extract_full_rewrite,
    parse_edits,
    parse_search_replace,
    unified_diff,
)
from evoforge.mutate.grammar import search_replace_grammar, validate_gbnf
from evoforge.mutate.operators import OPERATORS, apply_operator
from evoforge.mutate.prompts import (
    build_messages,
    is_template_echo,
    profile_for,
    retry_messages,
)

__all__ = [
    "OPERATORS",
    "Block",
    "EditError",
    "EditResult",
    "apply_operator",
    "apply_reply",
    "apply_search_replace",
    "build_messages",
    "check_syntax",
    "extract_full_rewrite",
    "find_blocks",
    "is_template_echo",
    "outside_blocks_equal",
    "parse_edits",
    "parse_search_replace",
    "profile_for",
    "replace_blocks",
    "retry_messages",
    "search_replace_grammar",
    "unified_diff",
    "validate_gbnf",
]
