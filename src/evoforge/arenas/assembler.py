"""A Redcode '94 assembler: labels, EQU, ORG/END, expressions; no `eval` anywhere.

Warriors come from language models and from evolution, so the assembler is an input parser
for untrusted text: expressions are read by a small recursive-descent parser (numbers,
labels, ``+ - * / %``, unary signs, parentheses) with a bounded nesting depth, and every
problem is an `AssemblyError` that names the line, which becomes the candidate's feedback.

Semantics follow pMARS where it matters for fights: fields are reduced modulo the core size,
a label used in an operand is relative to the line using it, ``/`` truncates toward zero, a
one-operand ``DAT x`` means ``DAT #0, x`` and a one-operand ``JMP``/``SPL``/``NOP`` gets
``$0`` as B-operand. One deliberate difference: an ``EQU`` is stored as a parsed
expression, not as text, so ``x EQU 2+3`` then ``x*2`` is 10 (pMARS's text substitution
gives 8). ``FOR``/``ROF`` macros and ``PIN`` are not supported and say so.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Union

from evoforge.arenas.redcode import (
    DAT,
    DIRECT,
    IMMEDIATE,
    JMP,
    MODE_INDEX,
    MODIFIER_INDEX,
    NOP,
    OPCODE_ALIASES,
    OPCODE_INDEX,
    SPL,
    Instruction,
    Warrior,
    default_modifier,
)

MAX_SOURCE_CHARS = 200_000
MAX_DEPTH = 50


class AssemblyError(ValueError):
    """The warrior's source is not valid Redcode; `line` is 1-based (0 = whole file)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.reason = message


# -- expressions -----------------------------------------------------------------------------
Node = Union[int, str, tuple]  # noqa: UP007 - a runtime alias, kept 3.10-friendly  # int literal | identifier | (op, left[, right])
_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z0-9_]*)|(\S))")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:  # only trailing whitespace left
            break
        tok = m.group(1) or m.group(2) or m.group(3)
        if m.group(3) and tok not in "+-*/%()":
            raise ValueError(f"unexpected character {tok!r} in expression {text.strip()!r}")
        out.append(tok)
        pos = m.end()
    return out


class _Parser:
    """expr := term (('+'|'-') term)*; term := unary (('*'|'/'|'%') unary)*;
    unary := ('+'|'-') unary | atom; atom := NUMBER | NAME | '(' expr ')'."""

    def __init__(self, text: str) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.text = text.strip()

    def parse(self) -> Node:
        if not self.toks:
            raise ValueError("empty expression")
        node = self.expr(0)
        if self.i != len(self.toks):
            raise ValueError(f"unexpected {self.toks[self.i]!r} in expression {self.text!r}")
        return node

    def peek(self) -> str | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> str:
        tok = self.peek()
        if tok is None:
            raise ValueError(f"expression {self.text!r} ends too early")
        self.i += 1
        return tok

    def expr(self, depth: int) -> Node:
        node = self.term(depth)
        while self.peek() in ("+", "-"):
            node = (self.take(), node, self.term(depth))
        return node

    def term(self, depth: int) -> Node:
        node = self.unary(depth)
        while self.peek() in ("*", "/", "%"):
            node = (self.take(), node, self.unary(depth))
        return node

    def unary(self, depth: int) -> Node:
        if depth > MAX_DEPTH:
            raise ValueError("expression nested too deeply")
        if self.peek() in ("+", "-"):
            op = self.take()
            return ("neg", self.unary(depth + 1)) if op == "-" else self.unary(depth + 1)
        return self.atom(depth)

    def atom(self, depth: int) -> Node:
        tok = self.take()
        if tok == "(":
            node = self.expr(depth + 1)
            if self.peek() != ")":
                raise ValueError(f"missing ')' in expression {self.text!r}")
            self.take()
            return node
        if tok.isdigit():
            return int(tok)
        if tok[0].isalpha() or tok[0] == "_":
            return tok
        raise ValueError(f"unexpected {tok!r} in expression {self.text!r}")


def parse_expression(text: str) -> Node:
    """Parse an expression into a tiny tree (raises ValueError with a readable message)."""
    return _Parser(text).parse()


def _cdiv(a: int, b: int, op: str) -> int:
    if b == 0:
        raise ValueError("division by zero in expression")
    q = abs(a) // abs(b) if op == "/" else abs(a) % abs(b)
    if op == "/":
        return q if (a >= 0) == (b >= 0) else -q
    return q if a >= 0 else -q  # C remainder takes the dividend's sign


def evaluate(node: Node, lookup: Callable[[str, int], int], depth: int = 0) -> int:
    """Value of `node`; `lookup(name, depth)` resolves identifiers (labels, EQUs, constants)."""
    if depth > MAX_DEPTH * 4:
        raise ValueError("expression nested too deeply (recursive EQU?)")
    if isinstance(node, int):
        return node
    if isinstance(node, str):
        return lookup(node, depth + 1)
    if node[0] == "neg":
        return -evaluate(node[1], lookup, depth + 1)
    op, left, right = node
    a, b = evaluate(left, lookup, depth + 1), evaluate(right, lookup, depth + 1)
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return _cdiv(a, b, op)


# -- lines -----------------------------------------------------------------------------------
@dataclass
class _Line:
    number: int
    opcode: int
    modifier: int | None
    operands: list[tuple[int, Node]]
    index: int  # instruction number within the warrior


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_OPWORD = re.compile(r"^([A-Za-z]+)(?:\.([A-Za-z]+))?$")
_PSEUDO = {"EQU", "ORG", "END", "FOR", "ROF", "PIN"}


def _is_opcode(word: str) -> bool:
    m = _OPWORD.match(word)
    if not m:
        return False
    name = m.group(1).upper()
    return name in OPCODE_INDEX or name in OPCODE_ALIASES


def _split_operands(text: str, line: int) -> list[tuple[int, Node]]:
    parts = [p.strip() for p in text.split(",")] if text.strip() else []
    if len(parts) > 2:
        raise AssemblyError(f"too many operands ({len(parts)}): {text.strip()!r}", line)
    out = []
    for part in parts:
        if not part:
            raise AssemblyError(f"empty operand in {text.strip()!r}", line)
        mode = DIRECT
        if part[0] in MODE_INDEX:
            mode, part = MODE_INDEX[part[0]], part[1:]
        try:
            out.append((mode, parse_expression(part)))
        except ValueError as exc:
            raise AssemblyError(str(exc), line) from None
    return out


def assemble(source: str, *, coresize: int = 8000, max_length: int = 100,
             constants: dict[str, int] | None = None, name: str | None = None) -> Warrior:
    """Assemble Redcode text into a `Warrior` (raises AssemblyError with the line number)."""
    if not isinstance(source, str):
        raise AssemblyError(f"expected Redcode text, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise AssemblyError(f"source is {len(source)} characters, more than {MAX_SOURCE_CHARS}")
    predefined = {"CORESIZE": coresize, "MAXLENGTH": max_length, "MAXPROCESSES": 8000,
                  "MAXCYCLES": 80000, "MINDISTANCE": 100, "WARRIORS": 2, "ROUNDS": 1,
                  "PSPACESIZE": coresize // 16, "VERSION": 94}
    predefined.update(constants or {})
    labels: dict[str, int] = {}
    equs: dict[str, tuple[Node, int]] = {}
    lines: list[_Line] = []
    pending: list[tuple[str, int]] = []  # labels waiting for their instruction
    start_expr: tuple[Node, int] | None = None
    meta = {"name": name or "unnamed", "author": "anonymous"}

    def define(label: str, lineno: int) -> None:
        key = label.rstrip(":")
        if key in labels or key in equs or key.upper() in predefined:
            raise AssemblyError(f"label {key!r} is defined twice", lineno)
        labels[key] = len(lines)

    def label_word(word: str, lineno: int) -> tuple[str, int]:
        if not _IDENT.fullmatch(word.rstrip(":")):
            raise AssemblyError(f"{word!r} is neither an opcode nor a valid label", lineno)
        return word, lineno

    for lineno, raw in enumerate(source.split("\n"), start=1):
        text, _, comment = raw.partition(";")
        comment = comment.strip()
        for key in ("name", "author"):
            if comment.lower().startswith(key + " ") and name is None:
                meta[key] = comment[len(key):].strip()[:80] or meta[key]
        words = text.split(None, 1)
        if not words:
            continue
        head, rest = words[0], (words[1] if len(words) > 1 else "")
        # leading labels: any words before the first opcode / pseudo-op
        while not _is_opcode(head) and head.upper() not in _PSEUDO:
            nxt = rest.split(None, 1)
            if nxt and nxt[0].upper() == "EQU":
                key = head.rstrip(":")
                if not _IDENT.fullmatch(key):
                    raise AssemblyError(f"{key!r} is not a valid name for EQU", lineno)
                if key in labels or key in equs or key.upper() in predefined:
                    raise AssemblyError(f"{key!r} is defined twice", lineno)
                try:
                    equs[key] = (parse_expression(nxt[1] if len(nxt) > 1 else ""), lineno)
                except ValueError as exc:
                    raise AssemblyError(str(exc), lineno) from None
                head = ""
                break
            pending.append(label_word(head, lineno))
            if not nxt:
                head = ""
                break
            head, rest = nxt[0], (nxt[1] if len(nxt) > 1 else "")
        if not head:
            continue
        word = head.upper()
        if word in ("FOR", "ROF", "PIN"):
            raise AssemblyError(f"{word} is not supported by this assembler", lineno)
        if word == "EQU":
            raise AssemblyError("EQU needs a name before it: NAME EQU value", lineno)
        if word in ("ORG", "END"):
            for label, at in pending:
                define(label, at)
            pending = []
            if rest.strip():
                try:
                    start_expr = (parse_expression(rest), lineno)
                except ValueError as exc:
                    raise AssemblyError(str(exc), lineno) from None
            if word == "END":
                break
            continue
        for label, at in pending:
            define(label, at)
        pending = []
        m = _OPWORD.match(head)
        assert m is not None
        op_name = OPCODE_ALIASES.get(m.group(1).upper(), m.group(1).upper())
        modifier = None
        if m.group(2):
            if m.group(2).upper() not in MODIFIER_INDEX:
                raise AssemblyError(f"unknown modifier .{m.group(2)}", lineno)
            modifier = MODIFIER_INDEX[m.group(2).upper()]
        lines.append(_Line(lineno, OPCODE_INDEX[op_name], modifier,
                           _split_operands(rest, lineno), len(lines)))
    for label, at in pending:  # labels after the last instruction point past its end
        define(label, at)
    if not lines:
        raise AssemblyError("the warrior has no instructions")
    if len(lines) > max_length:
        raise AssemblyError(f"the warrior has {len(lines)} instructions, more than the "
                            f"maximum length {max_length}")

    def lookup_at(index: int, lineno: int) -> Callable[[str, int], int]:
        def lookup(ident: str, depth: int) -> int:
            if ident in labels:
                return labels[ident] - index
            if ident in equs:
                return evaluate(equs[ident][0], lookup, depth)
            if ident.upper() in predefined:
                return predefined[ident.upper()]
            if ident.upper() == "CURLINE":
                return index
            raise ValueError(f"unknown label {ident!r}")
        return lookup

    instructions = []
    for ln in lines:
        ops = ln.operands
        if not ops:
            raise AssemblyError(f"{_name(ln.opcode)} needs an operand", ln.number)
        if len(ops) == 1:
            if ln.opcode == DAT:
                ops = [(IMMEDIATE, 0), ops[0]]
            elif ln.opcode in (JMP, SPL, NOP):
                ops = [ops[0], (DIRECT, 0)]
            else:
                raise AssemblyError(f"{_name(ln.opcode)} needs two operands", ln.number)
        try:
            look = lookup_at(ln.index, ln.number)
            a = evaluate(ops[0][1], look) % coresize
            b = evaluate(ops[1][1], look) % coresize
        except ValueError as exc:
            raise AssemblyError(str(exc), ln.number) from None
        mod = ln.modifier
        if mod is None:
            mod = default_modifier(ln.opcode, ops[0][0], ops[1][0])
        instructions.append(Instruction(ln.opcode, mod, ops[0][0], a, ops[1][0], b))
    start = 0
    if start_expr is not None:
        try:
            start = evaluate(start_expr[0], lookup_at(0, start_expr[1]))
        except ValueError as exc:
            raise AssemblyError(str(exc), start_expr[1]) from None
        if not 0 <= start < len(instructions):
            raise AssemblyError(f"start offset {start} is outside the warrior "
                                f"(0..{len(instructions) - 1})", start_expr[1])
    return Warrior(tuple(instructions), start, meta["name"], meta["author"], source)


def _name(opcode: int) -> str:
    from evoforge.arenas.redcode import OPCODES
    return OPCODES[opcode]
