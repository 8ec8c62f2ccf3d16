"""Best-first refinement (ALE-Agent): always refine the best solution that still has
refinements left, and never spend an evaluation on a solution already seen.

ALE-Agent's search for heuristic contests keeps a tree of solutions scored on public tests;
each step expands the best node with a few refinements (children proposed from its feedback),
and a tabu list rejects candidates identical to earlier ones. Compared with evoforge's
weighted sampling, this is greedy: good when scores are informative and evaluations costly,
as in contests. Pure logic, no I/O: the engine asks `select()` for a parent id and checks
children against `TabuList` before evaluating them.

    selector = BestFirstSelector(expansions_per_node=3)
    parent = selector.select([(id, fitness), ...])   # higher fitness is better
    if not tabu.seen(child_code): tabu.add(child_code); evaluate(child_code)
"""
from __future__ import annotations

import ast
import hashlib
import math
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from typing import Any


class BestFirstSelector:
    """Pick the fittest member that has been expanded fewer than `expansions_per_node` times.

    Each `select()` counts as one expansion of the returned member. Ties in fitness go to the
    member listed first (callers list older members first, so refinement stays on one line
    rather than hopping between equals). When every member is fully expanded, the one with
    the fewest expansions among the fittest is returned (search never stalls).
    """

    def __init__(self, expansions_per_node: int = 3) -> None:
        if expansions_per_node < 1:
            raise ValueError(f"expansions_per_node must be at least 1, got {expansions_per_node}")
        self.expansions_per_node = expansions_per_node
        self._expanded: dict[str, int] = {}

    def select(self, members: Sequence[tuple[str, float]]) -> str:
        """The id of the member to refine next; records one expansion of it."""
        usable = [(i, str(mid), float(fit)) for i, (mid, fit) in enumerate(members)
                  if fit is not None and not math.isnan(float(fit))]
        if not usable:
            raise ValueError("no member with a usable fitness to expand")
        ranked = sorted(usable, key=lambda t: (-t[2], t[0]))
        for _, mid, _ in ranked:
            if self._expanded.get(mid, 0) < self.expansions_per_node:
                return self._count(mid)
        best = ranked[0][2]
        top = [mid for _, mid, fit in ranked if fit == best]
        return self._count(min(top, key=lambda m: self._expanded.get(m, 0)))

    def _count(self, mid: str) -> str:
        self._expanded[mid] = self._expanded.get(mid, 0) + 1
        return mid

    def expansions(self, member_id: str) -> int:
        """How many times `member_id` was selected."""
        return self._expanded.get(member_id, 0)

    def exhausted(self, member_id: str) -> bool:
        return self.expansions(member_id) >= self.expansions_per_node

    def release(self, member_id: str) -> None:
        """Undo one expansion (the proposal made from it never reached evaluation)."""
        if self._expanded.get(member_id, 0) > 0:
            self._expanded[member_id] -= 1

    def state(self) -> dict[str, Any]:
        """JSON-able state, for resuming a run."""
        return {"expansions_per_node": self.expansions_per_node, "expanded": dict(self._expanded)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BestFirstSelector:
        sel = cls(int(state.get("expansions_per_node", 3)))
        sel._expanded = {str(k): int(v) for k, v in dict(state.get("expanded", {})).items()}
        return sel


def normalise_code(code: str, language: str = "python") -> str:
    """The text a tabu hash is taken of: for Python the AST (so comments, blank lines and
    formatting do not make a solution new), otherwise lines with trailing blanks removed."""
    if language == "python":
        try:
            return ast.dump(ast.parse(code), annotate_fields=False, include_attributes=False)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    lines = [ln.rstrip() for ln in code.replace("\r\n", "\n").split("\n")]
    return "\n".join(ln for ln in lines if ln)


def code_key(code: str, language: str = "python") -> str:
    return hashlib.sha256(normalise_code(code, language).encode("utf-8")).hexdigest()


class TabuList:
    """Hashes of solutions already proposed; the oldest are forgotten past `max_size`."""

    def __init__(self, max_size: int = 100_000, language: str = "python",
                 initial: Iterable[str] = ()) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self.max_size, self.language = max_size, language
        self._keys: OrderedDict[str, None] = OrderedDict()
        for code in initial:
            self.add(code)

    def seen(self, code: str) -> bool:
        """True when `code` (up to formatting and comments) was added before."""
        return code_key(code, self.language) in self._keys

    def add(self, code: str) -> bool:
        """Remember `code`; False when it was already known."""
        key = code_key(code, self.language)
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        while len(self._keys) > self.max_size:
            self._keys.popitem(last=False)
        return True

    def __contains__(self, code: object) -> bool:
        return isinstance(code, str) and self.seen(code)

    def __len__(self) -> int:
        return len(self._keys)

    def state(self) -> dict[str, Any]:
        return {"max_size": self.max_size, "language": self.language, "keys": list(self._keys)}

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> TabuList:
        tabu = cls(int(state.get("max_size", 100_000)), str(state.get("language", "python")))
        for key in state.get("keys", []):
            tabu._keys[str(key)] = None
        return tabu
