"""The nouns of a run: an `Attempt` is any proposal (including ones that failed before
evaluation); a *program* is an attempt that was evaluated and got a valid score.

Everything a user may later want to inspect (code, diff, prompt, reply, feedback, usage)
is kept on the attempt so that nothing is lost, failures included.
"""
from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any


class AttemptStatus(str, Enum):
    """Outcome of one attempt. Only ``OK`` attempts are programs that selection may use."""

    PENDING = "pending"            # proposed, evaluation in flight (only seen after a crash)
    OK = "ok"                      # evaluated, valid score
    INVALID = "invalid"            # evaluator said the output is not a valid solution
    ERROR = "error"                # candidate or evaluator crashed / returned garbage
    TIMEOUT = "timeout"            # candidate or evaluator ran past its time limit
    LLM_ERROR = "llm_error"        # the model call failed after retries
    PARSE_FAILED = "parse_failed"  # the reply held no usable edit
    APPLY_FAILED = "apply_failed"  # the edit did not apply to the parent
    SYNTAX_ERROR = "syntax_error"  # the edited program does not parse
    DUPLICATE = "duplicate"        # rejected by the novelty filter before evaluation
    QUARANTINED = "quarantined"    # scored, but held for audit by a safety check

    @property
    def is_program(self) -> bool:
        return self is AttemptStatus.OK


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()[:32]


@dataclass
class Attempt:
    """One proposal and everything known about it."""

    run_id: str
    code: str | None
    status: AttemptStatus = AttemptStatus.PENDING
    id: str = field(default_factory=new_id)
    parent_id: str | None = None
    inspiration_ids: list[str] = field(default_factory=list)
    island: int = 0
    generation: int = 0
    mutation: str = "initial"          # initial | diff | full | crossover | perturb | swap | ...
    model: str | None = None           # model that wrote it; None for zero-cost operators
    score: float | None = None         # public score (selection sees only this)
    private_score: float | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    feedback: str = ""
    reason: str = ""                   # why it failed, precise and human readable
    diff: str = ""                     # unified diff against the parent
    prompt: str = ""
    response: str = ""
    stdout: str = ""
    stderr: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    eval_seconds: float = 0.0
    created_at: float = field(default_factory=time.time)
    proposal_index: int = -1           # 0-based order in which proposals were made in the run

    @property
    def code_hash(self) -> str | None:
        return code_hash(self.code) if self.code is not None else None

    @property
    def is_program(self) -> bool:
        return self.status is AttemptStatus.OK and self.score is not None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["status"] = self.status.value
        d["code_hash"] = self.code_hash
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Attempt":
        d = dict(d)
        d.pop("code_hash", None)
        d["status"] = AttemptStatus(d["status"])
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})


@dataclass
class LLMCallRecord:
    """Usage of one model call, stored whether it succeeded or not."""

    run_id: str
    model: str
    purpose: str = "mutation"
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    error: str = ""
    attempt_id: str | None = None
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=time.time)
