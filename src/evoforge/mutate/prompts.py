"""Chat prompts for proposals, sized to the model.

Two profiles. "small" is for tiny local models (SmolLM2-135M, Gemma-3-270M, Qwen2.5-0.5B):
they lose track of long prompts and copy whatever template they see, so they get a few
hundred characters of instructions, only the EVOLVE-BLOCK text (the only part they may
edit), one trimmed piece of feedback and a worked example written in *foreign* code (``_demo``
names). Echoing that example cannot be mistaken for an edit of the program:
`is_template_echo` spots it and the SEARCH will not match. "large" is for capable models: the
whole file, several inspirations with their feedback, and the run's insights.
"""
from __future__ import annotations

import re

from evoforge.mutate import kinds as kind_registry
from evoforge.mutate.blocks import find_blocks

__all__ = ["EXAMPLES", "build_messages", "is_template_echo", "profile_for", "retry_messages"]

# Worked examples in code no task contains; the first one whose names the parent lacks is used.
EXAMPLES: tuple[tuple[str, str], ...] = (
    ("    _demo_total = _demo_step(3)", "    _demo_total = _demo_step(4) * 2"),
    ("    _zz_gain = _zz_scale + 1", "    _zz_gain = _zz_scale * 3"),
)
_ECHO_NAMES = (("_demo_total", "_demo_step"), ("_zz_gain", "_zz_scale"))
_TINY_NAMES = re.compile(
    r"smollm|gemma-?3-?270m|qwen2(\.5)?-0\.5b|tinyllama|tiny-?gpt|pythia-(70|160|410)m|opt-125m",
    re.IGNORECASE,
)
_PARAMS = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)\s*([mb])(?![a-z])", re.IGNORECASE)


def _fmt_score(score: float | None) -> str:
    return "none yet" if score is None else f"{score:.6g}"


def _trim(text: str, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _block_view(code: str) -> str:
    """Only the block contents, blocks separated by a ``...`` line, trailing blanks dropped."""
    texts = [b.text.rstrip() for b in find_blocks(code)]
    return "\n...\n".join(t.strip("\n") for t in texts)


def _example(parent_code: str) -> tuple[str, str]:
    for (search, replace), names in zip(EXAMPLES, _ECHO_NAMES):
        if not any(n in parent_code for n in names):
            return search, replace
    return EXAMPLES[0]


def _edit_block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


def _better(direction: str) -> str:
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    return "higher is better" if direction == "maximize" else "lower is better"


def _small(task: str, code: str, score: float | None, feedback: str, mode: str, insp: list[dict],
           direction: str, other: str | None, failure: str | None, fence: str) -> list[dict]:
    kind = kind_registry.get(mode)
    system = "You improve code. Reply with the edit only."
    head = f"Task: {_trim(task, 120)}\nScore: {_fmt_score(score)} ({_better(direction)})"
    if feedback.strip():
        head += f"\nFeedback: {_trim(feedback, 100)}"
    parts = [head]
    if failure:
        parts.append(f"{'Error' if mode == 'fix' else 'Last try failed'}: {_trim(failure, 200)}")
    if insp and not kind.needs_second_parent:
        best = insp[0]
        parts.append(f"A version scoring {_fmt_score(best.get('score'))}:\n"
                     f"{_trim(_block_view(best['code']), 500)}")
    if kind.needs_second_parent:
        parts.append(f"Code A:\n{_block_view(code)}\n\nCode B:\n{_block_view(other or '')}")
        parts.append(f"Combine the best parts of A and B. Reply with only the new code in one "
                     f"```{fence} block.")
    elif kind.edit_format is kind_registry.FULL:
        parts.append(f"Code:\n{_block_view(code)}")
        parts.append(f"Rewrite the Code for a better score. Reply with only the new code in one "
                     f"```{fence} block.")
    elif kind.prompt_template == "tweak":
        parts.append(f"Code:\n{_block_view(code)}")
        parts.append("Pick the one line whose numbers matter most and give it better numbers. "
                     "Reply with one SEARCH/REPLACE edit of that line.")
    else:
        search, replace = _example(code)
        goal = "fixes the error" if mode == "fix" else "improves the score"
        parts.append(f"Code:\n{_block_view(code)}")
        parts.append(f"Example (other code):\n{_edit_block(search, replace)}")
        parts.append(f"Now one edit of the Code that {goal}. SEARCH copies a Code line exactly.")
    return [{"role": "system", "content": system}, {"role": "user", "content": "\n\n".join(parts)}]


_LARGE_SYSTEM = (
    "You are an expert programmer improving a program through evolutionary search. A trusted "
    "evaluator scores every program you write. Only the code between EVOLVE-BLOCK-START and "
    "EVOLVE-BLOCK-END lines may change; everything outside the blocks is fixed and is what the "
    "evaluator calls, so keep the names and signatures it uses. Think about what limits the "
    "score, then make a focused, substantive change. Programs that crash, time out or "
    "produce invalid output score nothing."
)


def _large(task: str, code: str, score: float | None, feedback: str, mode: str, insp: list[dict],
           insights: list[str], direction: str, other: str | None, failure: str | None,
           fence: str) -> list[dict]:
    kind = kind_registry.get(mode)
    parts = [f"# Task\n{task.strip()}",
             (f"# Current program (score {_fmt_score(score)}, {_better(direction)})\n"
              f"```{fence}\n{code.rstrip()}\n```")]
    if feedback.strip():
        parts.append(f"# Evaluator feedback on it\n{_trim(feedback, 1500)}")
    if kind.needs_second_parent and other:
        parts.append(f"# Second parent\n```{fence}\n{other.rstrip()}\n```")
    for n, item in enumerate(insp[:3], start=1):
        text = (f"# Other program {n} (score {_fmt_score(item.get('score'))})\n"
                f"```{fence}\n{item['code'].rstrip()}\n```")
        if str(item.get("feedback") or "").strip():
            text += f"\nFeedback: {_trim(str(item['feedback']), 400)}"
        parts.append(text)
    if insights:
        parts.append("# Insights from earlier attempts\n" +
                     "\n".join(f"- {_trim(i, 300)}" for i in insights[:8]))
    if failure:
        title = "Error to fix" if mode == "fix" else "Your previous attempt failed"
        parts.append(f"# {title}\n{_trim(failure, 1500)}")
    if kind.prompt_template == "tweak":
        search, replace = _example(code)
        parts.append(
            "# Instructions\nTune the numeric constants: find the numbers that limit the score and "
            "change them with SEARCH/REPLACE edits, leaving everything else as it is. Example of the "
            f"format (for other code):\n{_edit_block(search, replace)}"
        )
    elif kind.edit_format is kind_registry.FULL:
        what = ("Combine the strengths of both parents" if kind.needs_second_parent
                else "Rewrite the program to improve the score")
        parts.append(
            f"# Instructions\n{what}. Reply with the complete program in one ```{fence} block, "
            "keeping the EVOLVE-BLOCK marker lines and all code outside the blocks unchanged."
        )
    else:
        search, replace = _example(code)
        goal = "Fix the error above" if mode == "fix" else "Improve the score"
        parts.append(
            f"# Instructions\n{goal} with one or more SEARCH/REPLACE edits. Each SEARCH must "
            "copy consecutive lines exactly from inside an EVOLVE-BLOCK, enough to be unique; "
            "REPLACE holds the new lines. Example of the format (for other code):\n"
            f"{_edit_block(search, replace)}\nExplain your idea in one or two sentences first."
        )
    return [{"role": "system", "content": _LARGE_SYSTEM},
            {"role": "user", "content": "\n\n".join(parts)}]


def build_messages(*, task_description: str, parent_code: str, parent_score: float | None,
                   parent_feedback: str, mode: str, inspirations: list[dict], insights: list[str],
                   profile: str, direction: str, other_parent_code: str | None = None,
                   failure_note: str | None = None, language: str = "python") -> list[dict]:
    """Chat messages (``[{"role", "content"}, ...]``) asking for one proposal.

    ``mode``: a model-driven kind of `evoforge.mutate.kinds` ("diff": SEARCH/REPLACE edits,
    "tweak": new numbers, "full": rewrite, "crossover": combine with ``other_parent_code``,
    "fix": repair ``failure_note``, or a registered kind); the prompt follows its template and
    edit format.
    ``inspirations`` are dicts with ``code``, ``score`` and ``feedback``, best first.
    """
    try:
        kind = kind_registry.get(mode)
    except KeyError as exc:
        raise ValueError(f"unknown mode {mode!r}") from exc
    if not kind.model:
        raise ValueError(f"unknown mode {mode!r}: {mode} is a zero-cost operator, not a model edit")
    if kind.needs_second_parent and not other_parent_code:
        raise ValueError(f"{mode} needs other_parent_code")
    fence = "cpp" if language in ("c++", "cpp") else language
    if profile == "small":
        return _small(task_description, parent_code, parent_score, parent_feedback or "", mode,
                      inspirations, direction, other_parent_code, failure_note, fence)
    if profile == "large":
        return _large(task_description, parent_code, parent_score, parent_feedback or "", mode,
                      inspirations, insights, direction, other_parent_code, failure_note, fence)
    raise ValueError(f"profile must be 'small' or 'large', got {profile!r}")


def retry_messages(messages: list[dict], reply: str, error_reason: str) -> list[dict]:
    """The conversation extended for one retry: the failed reply, then why it failed.

    A concrete reason (which edit, the closest real lines) lets even a small model correct a
    near-miss copy; a new list is returned so the caller's transcript is untouched.
    """
    echo = is_template_echo(reply)
    advice = ("You copied the example. Edit the Code instead." if echo
              else "Write the edit again; SEARCH must copy lines of the Code exactly.")
    return [*messages, {"role": "assistant", "content": _trim(reply, 2000)},
            {"role": "user", "content": f"That failed: {_trim(error_reason, 600)}\n{advice}"}]


def profile_for(context_length: int, model_name: str) -> str:
    """"small" for short contexts, known tiny models, or names declaring at most 1B params."""
    if context_length <= 4096 or _TINY_NAMES.search(model_name):
        return "small"
    for number, unit in _PARAMS.findall(model_name):
        params = float(number) * (1e6 if unit.lower() == "m" else 1e9)
        if params <= 1e9:
            return "small"
    return "large"


def is_template_echo(reply: str, parent_code: str = "") -> bool:
    """True when the reply reuses the prompt's worked example instead of editing the code."""
    for names in _ECHO_NAMES:
        if any(n in parent_code for n in names):
            continue
        if any(n.lstrip("_") in reply for n in names):
            return True
    return False
