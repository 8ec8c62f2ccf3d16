"""A small pure-Python reader for llama.cpp GBNF grammars.

Why it exists: the grammars evoforge writes for constrained decoding must be valid even on
machines without llama.cpp, and we want to *test* what they accept. `parse_gbnf` checks the
syntax the way llama.cpp's parser does (rule names of letters, digits and ``-``; ``"..."``
literals and ``[...]`` classes with ``\\x \\u \\U \\t \\n \\r \\\\ \\" \\[ \\]`` escapes; groups;
``* + ?`` and ``{m,n}``; every referenced rule defined), and `gbnf_to_regex` turns a
non-recursive grammar into an equivalent Python regular expression.
"""
from __future__ import annotations

import re

_NAME = re.compile(r"[A-Za-z0-9-]+")
_ESCAPES = {"t": "\t", "n": "\n", "r": "\r", "\\": "\\", '"': '"', "[": "[", "]": "]"}


class GBNFSyntaxError(ValueError):
    """The grammar text would be rejected by llama.cpp's parser."""


class _Parser:
    def __init__(self, text: str) -> None:
        self.text, self.pos = text, 0
        self.rules: dict[str, str] = {}  # name -> regex (rule refs as placeholders)
        self.refs: dict[str, set[str]] = {}
        self._current = ""

    def error(self, msg: str) -> GBNFSyntaxError:
        line = self.text.count("\n", 0, self.pos) + 1
        return GBNFSyntaxError(f"GBNF line {line}: {msg}")

    def space(self, newline_ok: bool) -> None:
        t = self.text
        while self.pos < len(t):
            ch = t[self.pos]
            if ch in " \t" or (newline_ok and ch in "\r\n"):
                self.pos += 1
            elif ch == "#":
                while self.pos < len(t) and t[self.pos] not in "\r\n":
                    self.pos += 1
            else:
                break

    def char(self) -> str:
        t = self.text
        if self.pos >= len(t):
            raise self.error("unexpected end of input")
        ch = t[self.pos]
        if ch != "\\":
            self.pos += 1
            return ch
        kind = t[self.pos + 1: self.pos + 2]
        if kind in _ESCAPES:
            self.pos += 2
            return _ESCAPES[kind]
        width = {"x": 2, "u": 4, "U": 8}.get(kind)
        digits = t[self.pos + 2: self.pos + 2 + (width or 0)]
        if not width or len(digits) != width or not re.fullmatch(r"[0-9A-Fa-f]+", digits):
            raise self.error(f"bad escape {t[self.pos:self.pos + 2]!r}")
        self.pos += 2 + width
        return chr(int(digits, 16))

    def parse(self) -> None:
        self.space(True)
        while self.pos < len(self.text):
            m = _NAME.match(self.text, self.pos)
            if not m:
                raise self.error(f"expected a rule name at {self.text[self.pos:self.pos + 20]!r}")
            name = m.group()
            self.pos = m.end()
            self.space(False)
            if not self.text.startswith("::=", self.pos):
                raise self.error(f"expected ::= after {name!r}")
            self.pos += 3
            self.space(True)
            self._current = name
            self.refs.setdefault(name, set())
            self.rules[name] = self.alternates(nested=False)
            self.space(True)
        if "root" not in self.rules:
            raise GBNFSyntaxError("GBNF: no 'root' rule")
        for name, refs in self.refs.items():
            for ref in refs:
                if ref not in self.rules:
                    raise GBNFSyntaxError(f"GBNF: undefined rule '{ref}' used in '{name}'")

    def alternates(self, nested: bool) -> str:
        alts = [self.sequence(nested)]
        while self.pos < len(self.text) and self.text[self.pos] == "|":
            self.pos += 1
            self.space(True)
            alts.append(self.sequence(nested))
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    def sequence(self, nested: bool) -> str:
        out: list[str] = []
        t = self.text
        while self.pos < len(t):
            ch = t[self.pos]
            if ch == '"':
                self.pos += 1
                lit = []
                while True:
                    if self.pos >= len(t):
                        raise self.error("unexpected end of input in a string")
                    if t[self.pos] == '"':
                        self.pos += 1
                        break
                    lit.append(self.char())
                out.append("(?:" + re.escape("".join(lit)) + ")")
            elif ch == "[":
                self.pos += 1
                neg = t.startswith("^", self.pos)
                self.pos += neg
                parts = []
                while True:
                    if self.pos >= len(t):
                        raise self.error("unexpected end of input in a character class")
                    if t[self.pos] == "]":
                        self.pos += 1
                        break
                    lo = self.char()
                    if t[self.pos: self.pos + 1] == "-" and t[self.pos + 1: self.pos + 2] != "]":
                        self.pos += 1
                        hi = self.char()
                        parts.append(re.escape(lo) + "-" + re.escape(hi))
                    else:
                        parts.append(re.escape(lo))
                out.append("[" + ("^" if neg else "") + "".join(parts) + "]")
            elif ch == ".":
                self.pos += 1
                out.append("(?s:.)")
            elif ch == "(":
                self.pos += 1
                self.space(True)
                inner = self.alternates(nested=True)
                if t[self.pos: self.pos + 1] != ")":
                    raise self.error("expected ')'")
                self.pos += 1
                out.append("(?:" + inner + ")")
            elif (m := _NAME.match(t, self.pos)) is not None:
                after = t[m.end():].lstrip(" \t")
                if after.startswith("::="):
                    break  # next rule begins (only reachable when newline_ok)
                self.pos = m.end()
                self.refs[self._current].add(m.group())
                out.append("\ue000" + m.group() + "\ue001")
            elif ch in "*+?":
                if not out:
                    raise self.error(f"expecting preceding item to {ch}")
                self.pos += 1
                out[-1] = "(?:" + out[-1] + ")" + ch
            elif ch == "{":
                m = re.compile(r"\{\s*(\d+)\s*(,\s*(\d*)\s*)?\}").match(t, self.pos)
                if not m or not out:
                    raise self.error("bad {m,n} repetition")
                self.pos = m.end()
                rep = m.group(1) + ("," + m.group(3) if m.group(2) else "")
                out[-1] = "(?:" + out[-1] + "){" + rep + "}"
            else:
                break
            self.space(nested)
        return "".join(out)


def parse_gbnf(text: str) -> dict[str, set[str]]:
    """Check GBNF syntax; returns each rule's referenced rule names. Raises `GBNFSyntaxError`."""
    p = _Parser(text)
    p.parse()
    return p.refs


def gbnf_to_regex(text: str) -> re.Pattern[str]:
    """A compiled regex accepting exactly the strings of a non-recursive grammar's root."""
    p = _Parser(text)
    p.parse()
    done: dict[str, str] = {}

    def expand(name: str, stack: tuple[str, ...]) -> str:
        if name in stack:
            raise GBNFSyntaxError(f"GBNF: rule '{name}' is recursive; no regex equivalent")
        if name not in done:
            body = p.rules[name]
            done[name] = re.sub("\ue000([A-Za-z0-9-]+)\ue001",
                                lambda m: "(?:" + expand(m.group(1), stack + (name,)) + ")", body)
        return done[name]

    return re.compile(expand("root", ()), re.DOTALL)
