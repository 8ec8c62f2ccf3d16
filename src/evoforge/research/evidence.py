"""Numbers a report may print: only values read from storage, each with the attempt ids behind it.

The report's tables are formatted from `Evidence` entries, never from model text. Text the
model wrote (the idea's fields, the discussion) is vetted: every number in it must match a
stored value at the precision it is written (0.1121 matches 0.112062…), or be a small count
(an integer from 0 to 10: "two stages", "step 3"). The discussion is refused as a whole when
it holds any other number; in the idea's own fields (written before the experiment) such
numbers are marked as unverified in place. Every refusal or mark is stored as an event.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][-+]?\d+)?%?")
SMALL_COUNTS = range(0, 11)


@dataclass
class Item:
    key: str
    label: str
    value: float
    ids: list[str]


@dataclass
class Evidence:
    items: list[Item] = field(default_factory=list)

    def add(self, key: str, label: str, value: float | None, ids: list[str]) -> None:
        if value is not None and math.isfinite(value):
            self.items.append(Item(key, label, float(value), list(ids)))

    def get(self, key: str) -> Item | None:
        return next((i for i in self.items if i.key == key), None)

    def fmt(self, key: str, digits: int = 4) -> str:
        """The stored value with its citation, e.g. ``0.1121 [a1b2c3d4]``; "—" when not stored."""
        item = self.get(key)
        if item is None:
            return "—"
        cite = ", ".join(i[:8] for i in item.ids[:4]) + (" …" if len(item.ids) > 4 else "")
        return f"{item.value:.{digits}g} [{cite}]"

    def matches(self, written: str) -> Item | None:
        """The stored item a number as written stands for, if any."""
        text = written.replace("−", "-").replace(",", "")
        percent = text.endswith("%")
        text = text.rstrip("%")
        try:
            value = float(text)
        except ValueError:
            return None
        mantissa, _, exponent = text.lower().partition("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        tolerance = 0.5 * 10 ** (int(exponent or 0) - decimals) * (1 + 1e-9)
        for item in self.items:
            for stored in ((item.value * 100.0,) if percent else (item.value, abs(item.value))):
                if abs(stored - value) <= tolerance or _same_sig(stored, value, text):
                    return item
        return None

    def to_list(self) -> list[dict[str, Any]]:
        return [{"key": i.key, "label": i.label, "value": i.value, "ids": i.ids} for i in self.items]


def _same_sig(stored: float, value: float, text: str) -> bool:
    """0.00012 written for 1.2345e-4: equal at the significant digits written."""
    digits = len(re.sub(r"^[-+]?0*\.?0*", "", text.split("e")[0].split("E")[0]).replace(".", ""))
    if digits == 0 or stored == 0:
        return False
    return float(f"{stored:.{digits}g}") == value


def unverified(text: str, evidence: Evidence) -> list[str]:
    """The numbers in `text` that are neither stored values nor small counts."""
    out = []
    for m in NUMBER.finditer(text):
        written = m.group(0)
        plain = written.lstrip("+").replace("−", "-")
        if re.fullmatch(r"\d+", plain) and int(plain) in SMALL_COUNTS:
            continue
        if evidence.matches(written) is None:
            out.append(written)
    return out


def mark(text: str, evidence: Evidence) -> tuple[str, list[str]]:
    """`text` with every unverified number marked in place, and the list of them."""
    bad = set(unverified(text, evidence))
    if not bad:
        return text, []
    marked = NUMBER.sub(lambda m: f"{m.group(0)} [unverified]" if m.group(0) in bad else m.group(0), text)
    return marked, sorted(bad)
