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

from ..mutate import edits as edit_ops
from ..mutate import operators as operator_ops
from ..mutate import prompts
from ..mutate.grammar import search_replace_grammar
from ..mutate.schema_edits import edit_from_json, edit_schema
from ..mutate.tweak import tweak_grammar
from ..program import AttemptStatus

OPERATOR_NAMES = {  # config kind -> mutate.operators name
    "perturb": "perturb",
    "swap": "swap",
    "duplicate": "duplicate",
    "delete": "delete",
    "block_crossover": "crossover",
}


@dataclass
class ParentView:
    """What a proposal needs to know about a program."""

    id: str
    code: str
    score: float | None
    feedback: str = ""


@dataclass
class LLMCall:
    """The outcome of one model call, for usage accounting."""

    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float = 0.0
    error: str = ""


@dataclass
class ChildDraft:
    """A proposed child before evaluation: code, or a failure status with its reason."""

    code: str | None
    status: AttemptStatus = AttemptStatus.PENDING
    reason: str = ""
    prompt: str = ""
    response: str = ""
    model: str | None = None
    calls: list[LLMCall] = field(default_factory=list)


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
    """Reject children identical to the parent or that no longer parse, before any evaluation."""
    if draft.code is None:
        return draft
    if draft.code == parent_code:
        draft.status, draft.reason, draft.code = AttemptStatus.APPLY_FAILED, "the edit left the program unchanged", draft.code
        return draft
    error = edit_ops.check_syntax(draft.code, language)
    if error:
        draft.status, draft.reason = AttemptStatus.SYNTAX_ERROR, f"edited program does not parse: {error}"
    return draft


def operator_child(kind: str, parent: ParentView, other: ParentView | None, rng: random.Random, language: str) -> ChildDraft:
    """Apply a zero-cost operator; no model call."""
    name = OPERATOR_NAMES[kind]
    if name == "crossover" and other is None:
        return ChildDraft(None, AttemptStatus.APPLY_FAILED, "block crossover needs a second parent")
    code = operator_ops.apply_operator(name, parent.code, rng, other=other.code if other else None, language=language)
    if code is None:
        return ChildDraft(None, AttemptStatus.APPLY_FAILED, f"operator {kind} found nothing to change")
    return finish_checks(ChildDraft(code, model=None), parent.code, language)


@dataclass
class ModelRequest:
    """Everything the model path needs for one proposal."""

    kind: str                       # diff | full | crossover | fix
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


def model_child(
    req: ModelRequest,
    provider: Any,
    *,
    cost_of: Callable[[Any], float],
    allow_extra_call: Callable[[], bool],
    on_call: Callable[[LLMCall], None],
    seen_replies: set[str],
    strategy: Any = None,
) -> ChildDraft:
    """Ask the model for an edit and apply it, with one in-conversation retry for a bad diff."""
    from ..llm.base import LLMError

    mode = "full" if req.kind in ("full", "crossover") else "diff"  # tweak and fix answer as diffs
    build = strategy.build_messages if strategy is not None else prompts.build_messages
    retry = strategy.retry_messages if strategy is not None else prompts.retry_messages
    messages = build(
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
    grammar = None
    schema = None  # the JSON-schema route, for servers that enforce a schema but not a grammar
    by_grammar = bool(getattr(provider, "supports_grammar", False))
    by_schema = not by_grammar and bool(getattr(provider, "supports_json_schema", False))
    if req.constrained and mode == "diff" and (by_grammar or by_schema):
        if by_grammar and req.kind == "tweak":
            grammar = tweak_grammar(req.parent.code, exclude=req.tweaked_lines)
        elif by_grammar:
            grammar = search_replace_grammar(req.parent.code, language=req.language)
        else:
            tweak = req.kind == "tweak"
            schema = edit_schema(req.parent.code, language=req.language, tweak=tweak,
                                 exclude=req.tweaked_lines if tweak else None)
            if schema is not None:
                messages = _with_json_note(messages)
        if req.kind == "tweak" and grammar is None and schema is None:
            return ChildDraft(None, AttemptStatus.APPLY_FAILED, "tweak: the blocks hold no numbers to change")
    draft = ChildDraft(None, prompt=_render(messages), model=provider.name)
    tries = 1 + max(0, req.diff_retries if mode == "diff" else 0)
    broken_code: str | None = None
    own_replies: set[str] = set()
    for attempt_no in range(tries):
        if attempt_no > 0 and not allow_extra_call():
            break
        started = time.monotonic()
        try:
            # a retry samples hotter: the same prompt at the same temperature tends to give the same text
            temperature = None if req.temperature is None else min(1.5, req.temperature + 0.3 * attempt_no)
            extra: dict[str, Any] = {"reasoning_effort": req.reasoning_effort} if req.reasoning_effort else {}
            if schema is not None:  # only then: providers without the option never see the kwarg
                extra["json_schema"] = schema
            resp = provider.complete(
                messages, temperature=temperature, max_tokens=req.max_tokens,
                seed=req.seed + attempt_no, grammar=grammar, **extra,
            )
        except LLMError as exc:
            call = LLMCall(provider.name, latency_s=time.monotonic() - started, error=f"{exc.kind}: {exc}")
            for attr, name in (("input_tokens", "input_tokens"), ("output_tokens", "output_tokens")):
                setattr(call, name, int(getattr(exc, attr, 0) or 0))
            on_call(call)
            draft.calls.append(call)
            draft.status, draft.reason = AttemptStatus.LLM_ERROR, f"model call failed ({exc.kind}): {exc}"
            return draft
        call = LLMCall(
            provider.name, resp.input_tokens, resp.output_tokens, resp.reasoning_tokens,
            resp.latency_s or (time.monotonic() - started), 0.0,
        )
        call.cost_usd = cost_of(resp)
        on_call(call)
        draft.calls.append(call)
        reply = resp.text or ""
        draft.response = reply if attempt_no == 0 else f"{draft.response}\n\n--- retry {attempt_no} ---\n{reply}"
        edit: str | None = reply
        if schema is not None:
            # the JSON edit as SEARCH/REPLACE text; a server that ignored the schema (or refused it
            # and had it dropped) may have sent the text itself, which is just as usable
            edit = edit_from_json(reply, req.parent.code)
            if edit is None and edit_ops.parse_search_replace(reply):
                edit = reply
        if req.kind == "tweak" and edit is not None:  # remember the line, so the next tweak tries another
            for search, _ in edit_ops.parse_search_replace(edit)[:1]:
                req.tweaked_lines.update(line for line in search.splitlines() if line.strip())
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
            messages = _retry(retry, messages, reply, draft.reason, schema)
            draft.prompt = _render(messages)
            continue
        if prompts.is_template_echo(edit, parent_code=req.parent.code):
            draft.status, draft.reason = AttemptStatus.PARSE_FAILED, "the reply only echoed the example edit from the prompt"
            if mode != "diff":
                return draft
            messages = _retry(retry, messages, reply, draft.reason, schema)
            draft.prompt = _render(messages)
            continue
        result = edit_ops.apply_reply(req.parent.code, edit, mode)
        if result.ok and result.code is not None:
            draft.code, draft.status, draft.reason = result.code, AttemptStatus.PENDING, ""
            finish_checks(draft, req.parent.code, req.language)
            if draft.status is AttemptStatus.PENDING or mode != "diff" or attempt_no + 1 >= tries:
                return draft
            # the edit applied but broke the program or changed nothing: say so and ask again
            broken_code, draft.code = draft.code, None
        else:
            failed_to_parse = result.n_edits == 0
            draft.status = AttemptStatus.PARSE_FAILED if failed_to_parse else AttemptStatus.APPLY_FAILED
            draft.reason = result.reason or "the reply held no usable edit"
            if mode != "diff":
                return draft
        messages = _retry(retry, messages, reply, draft.reason, schema)
        draft.prompt = _render(messages)
    if draft.code is None and broken_code is not None and draft.status is AttemptStatus.SYNTAX_ERROR:
        draft.code = broken_code  # keep what the model wrote: every attempt is kept, failures included
    return draft
