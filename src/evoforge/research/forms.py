"""The fixed forms the model fills in (ideas, reviews), read strictly from JSON.

Why strict: a record is data the loop acts on (an idea becomes an experiment, a review score is
stored and shown), so a reply that is not exactly the form (a missing field, an extra one, a
score of 11 or "eight") is refused with a reason the model is shown on retry, never repaired by
guessing. The same form gives the JSON schema sent to servers that honour one and the GBNF
grammar sent to the embedded model, so a small model is constrained to the shape it is read by.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any

from ..errors import UserError

MAX_TEXT = 2000


class FormError(UserError):
    """A reply (or a file) that is not the form; the message says exactly what is wrong."""


@dataclass(frozen=True)
class Field:
    """One field: ``text`` (a non-empty string), ``list`` (1–6 non-empty strings) or ``score``
    (an integer from ``low`` to ``high``)."""

    name: str
    kind: str
    low: int = 1
    high: int = 10
    hint: str = ""
    max_chars: int = 0            # text fields: at most this many characters (0: MAX_TEXT)

    @property
    def limit(self) -> int:
        return self.max_chars or MAX_TEXT


@dataclass(frozen=True)
class Form:
    name: str
    fields: tuple[Field, ...]

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    def describe(self) -> str:
        """The form as the prompt shows it."""
        lines = []
        for f in self.fields:
            what = {"text": "string", "list": "list of 1-6 strings",
                    "score": f"integer {f.low}-{f.high}"}[f.kind]
            hint = ", ".join(h for h in (f.hint, f"at most {f.max_chars} characters" if f.max_chars else "") if h)
            lines.append(f'  "{f.name}": {what}' + (f"  ({hint})" if hint else ""))
        return "{\n" + ",\n".join(lines) + "\n}"

    def json_schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for f in self.fields:
            if f.kind == "text":
                props[f.name] = {"type": "string", "maxLength": f.limit}
            elif f.kind == "list":
                props[f.name] = {"type": "array", "items": {"type": "string"}}
            else:
                props[f.name] = {"type": "integer", "minimum": f.low, "maximum": f.high}
        return {"type": "object", "properties": props, "required": self.names, "additionalProperties": False}

    def grammar(self) -> str:
        """A GBNF grammar accepting exactly this form (fields in order)."""
        parts = []
        for i, f in enumerate(self.fields):
            value = {"text": f"str{i}" if f.max_chars else "str", "list": "strlist"}.get(f.kind, f"score{i}")
            parts.append(f'"\\"{f.name}\\":" ws {value}')
        rules = ['root ::= "{" ws ' + ' "," ws '.join(parts) + ' ws "}"',
                 'ws ::= [ \\n]{0,2}',
                 'str ::= "\\"" [^"\\\\\\n]{1,400} "\\""',
                 'strlist ::= "[" str ("," ws str){0,4} "]"']
        for i, f in enumerate(self.fields):
            if f.kind == "text" and f.max_chars:
                rules.append(f'str{i} ::= "\\"" [^"\\\\\\n]{{1,{min(f.max_chars, 400)}}} "\\""')
            if f.kind == "score":
                choices = " | ".join(f'"{n}"' for n in range(f.high, f.low - 1, -1))
                rules.append(f"score{i} ::= {choices}")
        return "\n".join(rules) + "\n"

    def parse(self, reply: str) -> dict[str, Any]:
        """The record in `reply` (a JSON object, optionally in a ```json fence), or FormError."""
        return self.check(extract_object(reply))

    def check(self, obj: Any) -> dict[str, Any]:
        if not isinstance(obj, dict):
            raise FormError(f"the {self.name} must be a JSON object, got {type(obj).__name__}")
        unknown = [k for k in obj if k not in self.names]
        if unknown:
            close = difflib.get_close_matches(str(unknown[0]), self.names, n=1, cutoff=0.5)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise FormError(f"the {self.name} has an unknown field '{unknown[0]}'{hint}; its fields are exactly: "
                            + ", ".join(self.names))
        missing = [n for n in self.names if n not in obj]
        if missing:
            raise FormError(f"the {self.name} is missing the field(s): {', '.join(missing)}")
        return {f.name: _field_value(f, obj[f.name], self.name) for f in self.fields}


def _field_value(f: Field, value: Any, form: str) -> Any:
    where = f"{form} field '{f.name}'"
    if f.kind == "score":
        if isinstance(value, bool) or not isinstance(value, int):
            raise FormError(f"{where} must be an integer from {f.low} to {f.high}, got {value!r}")
        if not f.low <= value <= f.high:
            raise FormError(f"{where} must be from {f.low} to {f.high}, got {value}")
        return value
    if f.kind == "list":
        if not isinstance(value, list) or not 1 <= len(value) <= 6:
            raise FormError(f"{where} must be a list of 1 to 6 strings, got {value!r}"[:300])
        return [_text(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return _text(value, where, f.limit)


def _text(value: Any, where: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(value, str) or not value.strip():
        raise FormError(f"{where} must be a non-empty string, got {value!r}"[:300])
    if len(value.strip()) > limit:
        raise FormError(f"{where} is longer than {limit} characters")
    return value.strip()


def extract_object(reply: str) -> Any:
    """The one JSON value of a reply: the whole text, or the inside of a single ```json fence.
    Prose around a bare object is refused: the form says "only the JSON object"."""
    text = reply.strip()
    fences = re.findall(r"```(?:json)?\s*\n(.*?)```", text, flags=re.DOTALL)
    if len(fences) > 1:
        raise FormError("the reply holds several code blocks; send exactly one JSON object")
    if fences:
        text = fences[0].strip()
    if not text:
        raise FormError("the reply is empty; send one JSON object")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormError(f"the reply is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                        "send only the JSON object") from None


IDEA = Form("idea", (
    Field("title", "text", hint="a few words", max_chars=100),
    Field("hypothesis", "text", hint="what you expect and why"),
    Field("planned_change", "text", hint="the change to the program, concretely"),
    Field("expected_effect", "text", hint="on the score"),
    Field("interestingness", "score"),
    Field("feasibility", "score"),
    Field("novelty", "score"),
))

REVIEW = Form("review", (
    Field("summary", "text"),
    Field("strengths", "list"),
    Field("weaknesses", "list"),
    Field("soundness", "score", hint="are the claims supported by the stored numbers?"),
    Field("novelty", "score"),
    Field("overall", "score"),
    Field("confidence", "score", 1, 5),
))

FORMS = {f.name: f for f in (IDEA, REVIEW)}
