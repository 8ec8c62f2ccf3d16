"""The outcome of applying a model reply: kept tiny so every edit path can share it."""
from __future__ import annotations

from dataclasses import dataclass, field

from evoforge.errors import EvoforgeError


class EditError(EvoforgeError):
    """A reply could not be turned into a child program.

    The message is written for the model as much as for the user: it names the edit, what
    went wrong and (when a SEARCH was not found) the closest real lines, because it is fed back
    for one in-conversation retry.
    """


@dataclass
class EditResult:
    """Child code (or None) plus a one-line reason; ``ok`` is False whenever ``code`` is None.

    ``notes`` lists the tolerances that were needed (e.g. "edit 1 matched ignoring
    indentation") so that runs can measure how often the fuzzy paths save a proposal.
    """

    code: str | None
    ok: bool
    reason: str
    n_edits: int
    notes: list[str] = field(default_factory=list)

    @classmethod
    def failed(cls, reason: str, n_edits: int = 0) -> EditResult:
        return cls(None, False, reason, n_edits)
