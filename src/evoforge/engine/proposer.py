"""Turning a parent into a child: by asking a model for an edit, or by a zero-cost operator.

Everything that can go wrong here (a failed call, a reply with no usable edit, an edit that does
not apply, a program that no longer parses, a reply the model already gave) ends as a *result
with a reason*, never as an exception that loses the attempt.
"""
from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from .. import bundle_rules
from ..bundle import is_bundle
from ..llm.base import ProviderBase
from ..mutate import edits as edit_ops
from ..mutate import kinds as kind_registry
from ..mutate import prompts
from ..mutate.kinds import EditFormat
from ..mutate.schema_edits import edit_from_json
from ..program import AttemptStatus, LLMCallRecord

@dataclass
class ParentView:
    """What a proposal needs to know about a program."""

    id: str
    code: str
    score: float | None
    feedback: str = ""


@dataclass
class ChildDraft:
    """A proposed child before evaluation: code, or a failure status with its reason."""

    code: str | None
    status: AttemptStatus = AttemptStatus.PENDING
    reason: str = ""
    prompt: str = ""
    response: str = ""
    model: str | None = None
    calls: list[LLMCallRecord] = field(default_factory=list)   # run and attempt ids filled in when stored


# Appended to the last user message when the reply is constrained by a JSON schema: the prompts
# ask for SEARCH/REPLACE text, and a model told the shape it must fill writes better content.
JSON_EDIT_NOTE = ('Answer as JSON {"search": one line copied from the code, '
                  '"replace": the new line(s)}.')


def _with_json_note(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """A copy of ``messages`` whose last user message also asks for the JSON edit."""
    out = list(messages)
    for i in range(len(out) - 1, -1, -1):
        if out[i].get("role") == "user":
            out[i] = {**out[i], "content": f"{out[i]['content']}\n\n{JSON_EDIT_NOTE}"}
            break
    return out


def _retry(retry: Callable[..., list[dict[str, str]]], messages: list[dict[str, str]], reply: str,
           reason: str, schema: dict[str, Any] | None) -> list[dict[str, str]]:
    """The retry conversation, still asking for JSON when the reply is schema-constrained."""
    extended = retry(messages, reply, reason)
    return _with_json_note(extended) if schema is not None else extended


def _render(messages: list[dict[str, str]]) -> str:
    return "\n\n".join(f"[{m['role']}]\n{m['content']}" for m in messages)


def finish_checks(draft: ChildDraft, parent_code: str, language: str) -> ChildDraft:
    """Reject children identical to the parent or that no longer parse, before any evaluation; a
    folder program's child must also keep its files, frozen files and outside-block text
    (`evoforge.bundle_rules`), whichever edit or operator produced it."""
    if draft.code is None:
        return draft
    if draft.code == parent_code:
        draft.status, draft.reason, draft.code = AttemptStatus.APPLY_FAILED, "the edit left the program unchanged", draft.code
        return draft
    if is_bundle(parent_code):  # a folder program: frozen files, file set and outside-block text kept
        violation = bundle_rules.child_violation(parent_code, draft.code)
        if violation:
            draft.status, draft.reason = AttemptStatus.APPLY_FAILED, violation
            return draft
    error = bundle_rules.syntax_error(draft.code, language)
    if error:
        draft.status, draft.reason = AttemptStatus.SYNTAX_ERROR, f"edited program does not parse: {error}"
    return draft


def operator_child(kind: str, parent: ParentView, other: ParentView | None, rng: random.Random, language: str,
                   scale: float | None = None) -> ChildDraft:
    """Apply a zero-cost operator kind; no model call. ``other`` is used only by a kind that
    needs a second parent; ``scale`` (mutation.perturb_scale) only by a scaled one (perturb)."""
    spec = kind_registry.get(kind)
    if spec.needs_second_parent and other is None:
        return ChildDraft(None, AttemptStatus.APPLY_FAILED, f"{kind.replace('_', ' ')} needs a second parent")
    second = other.code if (other is not None and spec.needs_second_parent) else None
    code = spec.run_operator(parent.code, rng, second, language, scale)
    if code is None:
        return ChildDraft(None, AttemptStatus.APPLY_FAILED, f"operator {kind} found nothing to change")
    return finish_checks(ChildDraft(code, model=None), parent.code, language)


@dataclass
class ModelRequest:
    """Everything the model path needs for one proposal."""

    kind: str                       # a model-driven kind of evoforge.mutate.kinds (diff, full, fix, ...)
    parent: ParentView
    inspirations: list[ParentView]
    other: ParentView | None
    task_description: str
    direction: str
    language: str
    profile: str
    temperature: float
    max_tokens: int
    seed: int
    constrained: bool
    insights: list[str]
    failure_note: str | None
    diff_retries: int
    tweaked_lines: set[str] = field(default_factory=set)   # lines already tweaked from this parent
    reasoning_effort: str | None = None


@dataclass
class _Constraint:
    """What constrains the reply: a GBNF grammar, a JSON schema, or neither; ``refusal`` when the
    format must be constrained here and cannot be."""

    grammar: str | None = None
    schema: dict[str, Any] | None = None
    refusal: str = ""


def _messages(req: ModelRequest, strategy: Any) -> list[dict[str, str]]:
    """The first prompt, from the strategy's builder (or the default prompts)."""
    build = strategy.build_messages if strategy is not None else prompts.build_messages
    return build(
        task_description=req.task_description,
        parent_code=req.parent.code,
        parent_score=req.parent.score,
        parent_feedback=req.parent.feedback,
        mode=req.kind,
        inspirations=[{"code": p.code, "score": p.score, "feedback": p.feedback} for p in req.inspirations],
        insights=req.insights,
        profile=req.profile,
        direction=req.direction,
        other_parent_code=req.other.code if req.other else None,
        failure_note=req.failure_note,
        language=req.language,
    )


def _constraint(req: ModelRequest, provider: Any, fmt: EditFormat) -> _Constraint:
    """The format's grammar (a server that enforces GBNF) or JSON schema (one that enforces only a
    schema), when the request is constrained; nothing for a format that is never constrained."""
    by_grammar = provider.supports_grammar
    by_schema = not by_grammar and provider.supports_json_schema
    if not req.constrained or (fmt.grammar is None and fmt.schema is None) or not (by_grammar or by_schema):
        return _Constraint()
    out = _Constraint()
    if by_grammar and fmt.grammar is not None:
        out.grammar = fmt.grammar(req.parent.code, req.language, req.tweaked_lines)
    elif by_schema and fmt.schema is not None:
        out.schema = fmt.schema(req.parent.code, req.language, req.tweaked_lines)
    if fmt.needs_constraint and out.grammar is None and out.schema is None:
        out.refusal = fmt.unconstrainable_reason or f"{fmt.name}: the reply cannot be constrained"
    return out


def _call(provider: ProviderBase, messages: list[dict[str, str]], req: ModelRequest, attempt_no: int,
          constraint: _Constraint, cost_of: Callable[[Any], float], on_call: Callable[[LLMCallRecord], None],
          draft: ChildDraft) -> str | None:
    """One model call, accounted on ``draft``; its reply text, or None (``draft`` failed) on an error."""
    from ..llm.base import LLMError

    started = time.monotonic()
    try:
        # a retry samples hotter: the same prompt at the same temperature tends to give the same text
        temperature = None if req.temperature is None else min(1.5, req.temperature + 0.3 * attempt_no)
        resp = provider.complete(  # every keyword is declared by ProviderBase; unsupported ones are ignored
            messages, temperature=temperature, max_tokens=req.max_tokens, seed=req.seed + attempt_no,
            grammar=constraint.grammar, json_schema=constraint.schema, reasoning_effort=req.reasoning_effort or None,
        )
    except LLMError as exc:
        call = LLMCallRecord(run_id="", model=provider.name, latency_s=time.monotonic() - started,
                             error=f"{exc.kind}: {exc}", input_tokens=int(exc.input_tokens or 0),
                             output_tokens=int(exc.output_tokens or 0))
        on_call(call)
        draft.calls.append(call)
        draft.status, draft.reason = AttemptStatus.LLM_ERROR, f"model call failed ({exc.kind}): {exc}"
        return None
    call = LLMCallRecord(run_id="", model=provider.name, input_tokens=resp.input_tokens,
                         output_tokens=resp.output_tokens, reasoning_tokens=resp.reasoning_tokens,
                         latency_s=resp.latency_s or (time.monotonic() - started), cost_usd=cost_of(resp))
    on_call(call)
    draft.calls.append(call)
    reply = resp.text or ""
    draft.response = reply if attempt_no == 0 else f"{draft.response}\n\n--- retry {attempt_no} ---\n{reply}"
    return reply


def _read_reply(reply: str, schema: dict[str, Any] | None, parent_code: str) -> str | None:
    """The reply as SEARCH/REPLACE or program text; None when a schema-constrained reply is unusable."""
    if schema is None:
        return reply
    # the JSON edit as SEARCH/REPLACE text; a server that ignored the schema (or refused it and
    # had it dropped) may have sent the text itself, which is just as usable
    edit = edit_from_json(reply, parent_code)
    if edit is None and edit_ops.parse_search_replace(reply):
        edit = reply
    return edit


def _remember_line(edit: str, tweaked_lines: set[str]) -> None:
    """Remember the line an edit changes, so the next ask from the same parent tries another."""
    for search, _ in edit_ops.parse_search_replace(edit)[:1]:
        tweaked_lines.update(line for line in search.splitlines() if line.strip())


def _apply_edit(draft: ChildDraft, req: ModelRequest, fmt: EditFormat, edit: str, last_try: bool) -> tuple[bool, str | None]:
    """Apply the edit to the parent in the format's mode. Returns (done, broken code): done when
    ``draft`` is final; the broken code of an edit that applied but must be asked again."""
    result = edit_ops.apply_reply(req.parent.code, edit, fmt.apply_mode)
    if result.ok and result.code is not None:
        draft.code, draft.status, draft.reason = result.code, AttemptStatus.PENDING, ""
        finish_checks(draft, req.parent.code, req.language)
        if draft.status is AttemptStatus.PENDING or not fmt.retries or last_try:
            return True, None
        # the edit applied but broke the program or changed nothing: say so and ask again
        broken, draft.code = draft.code, None
        return False, broken
    draft.status = AttemptStatus.PARSE_FAILED if result.n_edits == 0 else AttemptStatus.APPLY_FAILED
    draft.reason = result.reason or "the reply held no usable edit"
    return not fmt.retries, None


def model_child(
    req: ModelRequest,
    provider: Any,
    *,
    cost_of: Callable[[Any], float],
    allow_extra_call: Callable[[], bool],
    on_call: Callable[[LLMCallRecord], None],
    seen_replies: set[str],
    strategy: Any = None,
) -> ChildDraft:
    """Ask the model for an edit in the kind's format and apply it, with in-conversation retries
    where the format allows them: prompt, constraint, then per try call, read, apply."""
    fmt = kind_registry.format_of(req.kind)
    retry = strategy.retry_messages if strategy is not None else prompts.retry_messages
    messages = _messages(req, strategy)
    constraint = _constraint(req, provider, fmt)
    if constraint.refusal:
        return ChildDraft(None, AttemptStatus.APPLY_FAILED, constraint.refusal)
    if constraint.schema is not None:
        messages = _with_json_note(messages)
    draft = ChildDraft(None, prompt=_render(messages), model=provider.name)
    tries = 1 + max(0, req.diff_retries if fmt.retries else 0)
    broken_code: str | None = None
    own_replies: set[str] = set()
    for attempt_no in range(tries):
        if attempt_no > 0 and not allow_extra_call():
            break
        reply = _call(provider, messages, req, attempt_no, constraint, cost_of, on_call, draft)
        if reply is None:
            return draft
        edit = _read_reply(reply, constraint.schema, req.parent.code)
        if fmt.remembers_lines and edit is not None:
            _remember_line(edit, req.tweaked_lines)
        digest = hashlib.sha256(reply.strip().encode()).hexdigest()
        if reply.strip() and digest in own_replies:  # the retry gave the same text: keep the first failure's reason
            draft.reason = f"{draft.reason} (the retry repeated the same reply)"
            if broken_code is not None and draft.status is AttemptStatus.SYNTAX_ERROR:
                draft.code = broken_code
            return draft
        if reply.strip() and digest in seen_replies:
            draft.status, draft.reason = AttemptStatus.DUPLICATE, "the model repeated a reply it already gave for this parent"
            return draft
        seen_replies.add(digest)
        own_replies.add(digest)
        if edit is None:
            draft.status = AttemptStatus.PARSE_FAILED
            draft.reason = ('the reply is not a JSON edit {"search": ..., "replace": ...} whose search '
                            "is a line of the code")
        elif prompts.is_template_echo(edit, parent_code=req.parent.code):
            draft.status, draft.reason = AttemptStatus.PARSE_FAILED, "the reply only echoed the example edit from the prompt"
            if not fmt.retries:
                return draft
        else:
            done, broken = _apply_edit(draft, req, fmt, edit, last_try=attempt_no + 1 >= tries)
            if done:
                return draft
            broken_code = broken if broken is not None else broken_code
        messages = _retry(retry, messages, reply, draft.reason, constraint.schema)
        draft.prompt = _render(messages)
    if draft.code is None and broken_code is not None and draft.status is AttemptStatus.SYNTAX_ERROR:
        draft.code = broken_code  # keep what the model wrote: every attempt is kept, failures included
    return draft
