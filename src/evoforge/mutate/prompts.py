"""Chat prompts for proposals, sized to the model.

Two profiles. "small" is for tiny local models (SmolLM2-135M, Gemma-3-270M, Qwen2.5-0.5B):
they lose track of long prompts and copy whatever template they see, so they get a few
hundred characters of instructions, only the EVOLVE-BLOCK text (the only part they may
edit), one trimmed piece of feedback and a worked example written in *foreign* code (``_demo``
names). Echoing that example cannot be mistaken for an edit of the program:
`is_template_echo` spots it and the SEARCH will not match. "large" is for capable models: the
whole file, several inspirations with their feedback, and the run's insights.

A folder program (a bundle) is shown file by file, each under a ``FILE: path`` line, which is
also how the model is asked to name the file of each edit (`evoforge.mutate.bundle_edits`).
"small" shows only the blocks of the editable files; "large" shows every file, frozen ones
marked read-only (and listed by name only when the folder exceeds `LARGE_PROGRAM_BUDGET`), and
shows of the other programs only the files that differ from the current one.
"""
from __future__ import annotations

import re

from evoforge.bundle import is_bundle
from evoforge.mutate import kinds as kind_registry
from evoforge.mutate.blocks import find_blocks
from evoforge.mutate.files import FILE_LINE, ProgramFile, program_files
from evoforge.mutate.result import EditError

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


#: Characters of program text a "large" prompt shows before frozen files are listed by name only.
LARGE_PROGRAM_BUDGET = 40_000
EXAMPLE_PATH = "demo/other.py"  # the example edit's file: no task has it


def _files(code: str) -> list[ProgramFile] | None:
    """The files of a folder program (None for a single file or a damaged bundle)."""
    if not is_bundle(code):
        return None
    try:
        return program_files(code)
    except EditError:
        return None


def _block_view(code: str) -> str:
    """Only the block contents, blocks separated by a ``...`` line, trailing blanks dropped; for a
    folder program, each editable file's blocks under its ``FILE: path`` line."""
    files = _files(code)
    if files is not None:
        return "\n\n".join(f"{FILE_LINE.format(path=f.path)}\n{_block_view(f.text)}" for f in files if f.editable)
    texts = [b.text.rstrip() for b in find_blocks(code)]
    return "\n...\n".join(t.strip("\n") for t in texts)


def _fence_of(language: str) -> str:
    return "cpp" if language in ("c++", "cpp") else language


def _file_section(f: ProgramFile, shown: bool = True) -> str:
    state = "editable" if f.editable else "read-only"
    head = FILE_LINE.format(path=f.path) + f" ({state}{'' if shown else ', not shown'})"
    if shown and not f.text.strip():
        return f"{head}: an empty file"
    return f"{head}\n```{_fence_of(f.language)}\n{f.text.rstrip()}\n```" if shown else head


def _program_view(code: str, fence: str) -> str:
    """The whole program in a fence, or a folder program file by file (frozen ones read-only)."""
    files = _files(code)
    if files is None:
        return f"```{fence}\n{code.rstrip()}\n```"
    show_frozen = sum(len(f.text) for f in files) <= LARGE_PROGRAM_BUDGET
    n_frozen = sum(not f.editable for f in files)
    intro = (f"A folder of {len(files)} files. Only the editable files' EVOLVE-BLOCKs may change; "
             f"the {n_frozen} read-only file(s) have no block and stay as they are.")
    return "\n\n".join([intro] + [_file_section(f, show_frozen or f.editable) for f in files])


def _other_view(other: str, current: str, fence: str) -> str:
    """Another program: whole, or (a folder program) only its editable files that differ."""
    files, mine = _files(other), _files(current)
    if files is None or mine is None:
        return f"```{fence}\n{other.rstrip()}\n```"
    same = {f.path: f.text for f in mine}
    differ = [f for f in files if f.editable and same.get(f.path) != f.text]
    if not differ:
        return "(its files are those of the current program)"
    return "\n\n".join(["(files not shown are as in the current program)"] + [_file_section(f) for f in differ])


def _example(parent_code: str) -> tuple[str, str]:
    for (search, replace), names in zip(EXAMPLES, _ECHO_NAMES):
        if not any(n in parent_code for n in names):
            return search, replace
    return EXAMPLES[0]


def _edit_block(search: str, replace: str, code: str = "") -> str:
    """The example edit; for a folder program it starts with the ``FILE:`` line edits need."""
    head = FILE_LINE.format(path=EXAMPLE_PATH) + "\n" if is_bundle(code) else ""
    return f"{head}<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


def _better(direction: str) -> str:
    if direction not in ("maximize", "minimize"):
        raise ValueError(f"direction must be 'maximize' or 'minimize', got {direction!r}")
    return "higher is better" if direction == "maximize" else "lower is better"


def _small(task: str, code: str, score: float | None, feedback: str, mode: str, insp: list[dict],
           direction: str, other: str | None, failure: str | None, fence: str) -> list[dict]:
    kind = kind_registry.get(mode)
    folder = _files(code) is not None
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
                     f"```{fence} block" + (", after the FILE: line of its file." if folder else "."))
    elif kind.prompt_template == "tweak":
        parts.append(f"Code:\n{_block_view(code)}")
        parts.append("Pick the one line whose numbers matter most and give it better numbers. "
                     "Reply with " + ("FILE: its file, then " if folder else "") + "one SEARCH/REPLACE edit of that line.")
    else:
        search, replace = _example(code)
        goal = "fixes the error" if mode == "fix" else "improves the score"
        parts.append(f"Code:\n{_block_view(code)}")
        parts.append(f"Example (other code):\n{_edit_block(search, replace, code)}")
        parts.append(f"Now one edit of the Code that {goal}. "
                     + ("Start with FILE: and the file's path. " if folder else "")
                     + "SEARCH copies a Code line exactly.")
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
    folder = _files(code) is not None
    parts = [f"# Task\n{task.strip()}",
             (f"# Current program (score {_fmt_score(score)}, {_better(direction)})\n"
              f"{_program_view(code, fence)}")]
    if feedback.strip():
        parts.append(f"# Evaluator feedback on it\n{_trim(feedback, 1500)}")
    if kind.needs_second_parent and other:
        parts.append(f"# Second parent\n{_other_view(other, code, fence)}")
    for n, item in enumerate(insp[:3], start=1):
        text = (f"# Other program {n} (score {_fmt_score(item.get('score'))})\n"
                f"{_other_view(item['code'], code, fence)}")
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
            "change them with SEARCH/REPLACE edits, leaving everything else as it is. "
            + ("Start each edit with a line FILE: path naming its file. " if folder else "")
            + f"Example of the format (for other code):\n{_edit_block(search, replace, code)}"
        )
    elif kind.edit_format is kind_registry.FULL:
        what = ("Combine the strengths of both parents" if kind.needs_second_parent
                else "Rewrite the program to improve the score")
        if folder:
            parts.append(
                f"# Instructions\n{what}. For each file you change, write a line FILE: path and then the "
                "complete new file in one code block, keeping the EVOLVE-BLOCK marker lines and all code "
                "outside the blocks unchanged. Files you leave out stay as they are; read-only files cannot change."
            )
        else:
            parts.append(
                f"# Instructions\n{what}. Reply with the complete program in one ```{fence} block, "
                "keeping the EVOLVE-BLOCK marker lines and all code outside the blocks unchanged."
            )
    else:
        search, replace = _example(code)
        goal = "Fix the error above" if mode == "fix" else "Improve the score"
        parts.append(
            f"# Instructions\n{goal} with one or more SEARCH/REPLACE edits. "
            + ("Start each edit with a line FILE: path naming an editable file. " if folder else "")
            + "Each SEARCH must copy consecutive lines exactly from inside an EVOLVE-BLOCK"
            + (" of that file" if folder else "") + ", enough to be unique; "
            "REPLACE holds the new lines. Example of the format (for other code):\n"
            f"{_edit_block(search, replace, code)}\nExplain your idea in one or two sentences first."
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
