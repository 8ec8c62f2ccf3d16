"""evoforge's default strategy, written out as an evolvable program.

This file is the starting point of ``evoforge self-improve``: the outer evolution edits the code
between the EVOLVE-BLOCK markers (the system prompts, the instruction wording, the proposal-kind
weights, the temperature policy, the choice of inspirations and the numeric policy of the search:
operator weights, selection pressure, island settings) and scores each variant by how
much the inner engine improves other programs with it. Unchanged, it produces exactly the
messages of ``evoforge.mutate.prompts`` (a test checks this), so a strategy found by evolution
is always compared against the real default.

Rules for a strategy (they are enforced by the self-improve evaluator):
- standard library only (``re``, ``random``, ``math``, ``json``, ...); evoforge itself is not
  importable inside the sandbox where strategies run;
- no files, no network, no subprocesses; the functions below are called with plain data and
  must return plain data;
- keep the function names and signatures outside the blocks: the engine calls them.
"""
from __future__ import annotations

import re
from typing import Any

# EVOLVE-BLOCK-START
SMALL_SYSTEM = "You improve code. Reply with the edit only."
LARGE_SYSTEM = (
    "You are an expert programmer improving a program through evolutionary search. A trusted "
    "evaluator scores every program you write. Only the code between EVOLVE-BLOCK-START and "
    "EVOLVE-BLOCK-END lines may change; everything outside the blocks is fixed and is what the "
    "evaluator calls, so keep the names and signatures it uses. Think about what limits the "
    "score, then make a focused, substantive change. Programs that crash, time out or "
    "produce invalid output score nothing."
)
SMALL_TASK_CHARS = 120
SMALL_FEEDBACK_CHARS = 100
SMALL_INSPIRATION_CHARS = 500
SMALL_DIFF_GOAL = "improves the score"
SMALL_FIX_GOAL = "fixes the error"
SMALL_FULL_INSTRUCTION = "Rewrite the Code for a better score."
LARGE_FEEDBACK_CHARS = 1500
LARGE_INSPIRATIONS = 3
LARGE_DIFF_GOAL = "Improve the score"
LARGE_FIX_GOAL = "Fix the error above"
LARGE_DIFF_ADVICE = "Explain your idea in one or two sentences first."
LARGE_FULL_INSTRUCTION = "Rewrite the program to improve the score"
LARGE_CROSSOVER_INSTRUCTION = "Combine the strengths of both parents"
# EVOLVE-BLOCK-END

# EVOLVE-BLOCK-START
KIND_MULTIPLIERS = {"diff": 1.0, "full": 1.0, "crossover": 1.0, "perturb": 1.0, "swap": 1.0,
                    "duplicate": 1.0, "delete": 1.0, "block_crossover": 1.0}
# EVOLVE-BLOCK-END

# EVOLVE-BLOCK-START
# The numeric policy of the search (evoforge.rsi.policy), as small integers so that the zero-cost
# perturb operator, which moves a small integer by one, makes a real step: one level is a factor
# of two. The values here are evoforge's defaults, so this block changes nothing until evolved.
ISLANDS = 2              # search.islands
SELECTION_LEVEL = 4      # search.sharpness = 10 * 2 ** (SELECTION_LEVEL - 4): parent-selection pressure
MIGRATION_LEVEL = 4      # search.migration_interval = 10 * 2 ** (MIGRATION_LEVEL - 4) proposals
OPERATOR_LEVELS = {"perturb": 4, "swap": 4, "duplicate": 4, "delete": 4, "block_crossover": 4}
# EVOLVE-BLOCK-END

# EVOLVE-BLOCK-START
TEMPERATURE_STEP = 0.25
TEMPERATURE_MAX = 1.5
# EVOLVE-BLOCK-END

# EVOLVE-BLOCK-START
def pick_inspirations(candidates: list[dict[str, Any]], k: int) -> list[str]:
    """Candidates arrive best first; the default takes the first k."""
    return [c["id"] for c in candidates[:k]]
# EVOLVE-BLOCK-END


# ---- fixed plumbing below: the engine relies on these names and on the example edits ----
EXAMPLES = (
    ("    _demo_total = _demo_step(3)", "    _demo_total = _demo_step(4) * 2"),
    ("    _zz_gain = _zz_scale + 1", "    _zz_gain = _zz_scale * 3"),
)
_ECHO_NAMES = (("_demo_total", "_demo_step"), ("_zz_gain", "_zz_scale"))
_MARKER = re.compile(r"^[ \t]*[^\w\s'\"`]+[ \t]*" + "EVOLVE-BLOCK-" + r"(START|END)\b")


def _fmt_score(score: float | None) -> str:
    return "none yet" if score is None else f"{score:.6g}"


def _trim(text: str, limit: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= limit else text[: limit - 3].rstrip() + "..."


def _block_view(code: str) -> str:
    """The contents of the program's evolve blocks (the whole file when it has no markers)."""
    lines = code.split("\n")
    keep = [ln + "\n" for ln in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
    texts: list[str] = []
    current: list[str] | None = None
    seen = False
    for line in keep:
        m = _MARKER.match(line)
        if m is None:
            if current is not None:
                current.append(line)
            continue
        seen = True
        if m.group(1) == "START":
            current = []
        elif current is not None:
            texts.append("".join(current))
            current = None
    if not seen:
        texts = [code]
    return "\n...\n".join(t.rstrip().strip("\n") for t in texts)


def _example(parent_code: str) -> tuple[str, str]:
    for (search, replace), names in zip(EXAMPLES, _ECHO_NAMES):
        if not any(n in parent_code for n in names):
            return search, replace
    return EXAMPLES[0]


def _edit_block(search: str, replace: str) -> str:
    return f"<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE"


def _better(direction: str) -> str:
    return "higher is better" if direction == "maximize" else "lower is better"


def _small(task, code, score, feedback, mode, insp, direction, other, failure, fence):
    head = f"Task: {_trim(task, SMALL_TASK_CHARS)}\nScore: {_fmt_score(score)} ({_better(direction)})"
    if feedback.strip():
        head += f"\nFeedback: {_trim(feedback, SMALL_FEEDBACK_CHARS)}"
    parts = [head]
    if failure:
        parts.append(f"{'Error' if mode == 'fix' else 'Last try failed'}: {_trim(failure, 200)}")
    if insp and mode != "crossover":
        best = insp[0]
        parts.append(f"A version scoring {_fmt_score(best.get('score'))}:\n"
                     f"{_trim(_block_view(best['code']), SMALL_INSPIRATION_CHARS)}")
    if mode == "crossover":
        parts.append(f"Code A:\n{_block_view(code)}\n\nCode B:\n{_block_view(other or '')}")
        parts.append(f"Combine the best parts of A and B. Reply with only the new code in one "
                     f"```{fence} block.")
    elif mode == "full":
        parts.append(f"Code:\n{_block_view(code)}")
        parts.append(f"{SMALL_FULL_INSTRUCTION} Reply with only the new code in one ```{fence} block.")
    else:
        search, replace = _example(code)
        goal = SMALL_FIX_GOAL if mode == "fix" else SMALL_DIFF_GOAL
        parts.append(f"Code:\n{_block_view(code)}")
        parts.append(f"Example (other code):\n{_edit_block(search, replace)}")
        parts.append(f"Now one edit of the Code that {goal}. SEARCH copies a Code line exactly.")
    return [{"role": "system", "content": SMALL_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def _large(task, code, score, feedback, mode, insp, insights, direction, other, failure, fence):
    parts = [f"# Task\n{task.strip()}",
             (f"# Current program (score {_fmt_score(score)}, {_better(direction)})\n"
              f"```{fence}\n{code.rstrip()}\n```")]
    if feedback.strip():
        parts.append(f"# Evaluator feedback on it\n{_trim(feedback, LARGE_FEEDBACK_CHARS)}")
    if mode == "crossover" and other:
        parts.append(f"# Second parent\n```{fence}\n{other.rstrip()}\n```")
    for n, item in enumerate(insp[:LARGE_INSPIRATIONS], start=1):
        text = (f"# Other program {n} (score {_fmt_score(item.get('score'))})\n"
                f"```{fence}\n{item['code'].rstrip()}\n```")
        if str(item.get("feedback") or "").strip():
            text += f"\nFeedback: {_trim(str(item['feedback']), 400)}"
        parts.append(text)
    if insights:
        parts.append("# Insights from earlier attempts\n" + "\n".join(f"- {_trim(i, 300)}" for i in insights[:8]))
    if failure:
        title = "Error to fix" if mode == "fix" else "Your previous attempt failed"
        parts.append(f"# {title}\n{_trim(failure, 1500)}")
    if mode in ("diff", "fix"):
        search, replace = _example(code)
        goal = LARGE_FIX_GOAL if mode == "fix" else LARGE_DIFF_GOAL
        parts.append(
            f"# Instructions\n{goal} with one or more SEARCH/REPLACE edits. Each SEARCH must "
            "copy consecutive lines exactly from inside an EVOLVE-BLOCK, enough to be unique; "
            "REPLACE holds the new lines. Example of the format (for other code):\n"
            f"{_edit_block(search, replace)}\n{LARGE_DIFF_ADVICE}"
        )
    else:
        what = LARGE_CROSSOVER_INSTRUCTION if mode == "crossover" else LARGE_FULL_INSTRUCTION
        parts.append(
            f"# Instructions\n{what}. Reply with the complete program in one ```{fence} block, "
            "keeping the EVOLVE-BLOCK marker lines and all code outside the blocks unchanged."
        )
    return [{"role": "system", "content": LARGE_SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]


def build_messages(*, task_description: str, parent_code: str, parent_score: float | None,
                   parent_feedback: str, mode: str, inspirations: list[dict], insights: list[str],
                   profile: str, direction: str, other_parent_code: str | None = None,
                   failure_note: str | None = None, language: str = "python") -> list[dict]:
    """The chat messages for one proposal (see evoforge.mutate.prompts.build_messages)."""
    fence = "cpp" if language in ("c++", "cpp") else language
    if profile == "small":
        return _small(task_description, parent_code, parent_score, parent_feedback or "", mode,
                      inspirations, direction, other_parent_code, failure_note, fence)
    return _large(task_description, parent_code, parent_score, parent_feedback or "", mode,
                  inspirations, insights, direction, other_parent_code, failure_note, fence)


def retry_messages(messages: list[dict], reply: str, error_reason: str) -> list[dict]:
    """The conversation extended for one retry after an edit that did not apply."""
    echo = any(n.lstrip("_") in reply for names in _ECHO_NAMES for n in names)
    advice = ("You copied the example. Edit the Code instead." if echo
              else "Write the edit again; SEARCH must copy lines of the Code exactly.")
    return [*messages, {"role": "assistant", "content": _trim(reply, 2000)},
            {"role": "user", "content": f"That failed: {_trim(error_reason, 600)}\n{advice}"}]


def mutation_weights(weights: dict[str, float]) -> dict[str, float]:
    """Reweight the configured proposal kinds."""
    return {k: float(w) * float(KIND_MULTIPLIERS.get(k, 1.0)) * 2.0 ** (OPERATOR_LEVELS.get(k, 4) - 4)
            for k, w in weights.items()}


def config_overrides() -> dict[str, Any]:
    """The numeric policy as config overrides for the inner runs: only what differs from the
    default, so a task's own settings stand until the policy changes them."""
    out: dict[str, Any] = {}
    if ISLANDS != 2:
        out["search.islands"] = max(1, int(ISLANDS))
    if SELECTION_LEVEL != 4:
        out["search.sharpness"] = 10.0 * 2.0 ** (SELECTION_LEVEL - 4)
    if MIGRATION_LEVEL != 4:
        out["search.migration_interval"] = max(1, round(10 * 2.0 ** (MIGRATION_LEVEL - 4)))
    return out


def temperature(base: float, repeats: int) -> float:
    """Sampling temperature; ``repeats`` counts replies the model repeated for this parent."""
    return min(TEMPERATURE_MAX, base + TEMPERATURE_STEP * repeats)


def choose_inspirations(candidates: list[dict[str, Any]], k: int, rng: Any = None) -> list[str]:
    """Up to k ids among candidates (dicts with id and fitness, best first)."""
    return pick_inspirations(candidates, k)
