"""Prompt evolution inside an ordinary run: an archive of system prompts, chosen by a bandit,
scored by the programs they produce, mutated by the model.

Why inside the run: which instructions help depends on the task and the model, and a run sees
hundreds of proposals, enough evidence to tell a useful system prompt from a useless one. Each
proposal's system prompt is drawn from the archive by a Thompson-sampling `Bandit`; when the
attempt comes back (``observe``) the prompt earns 1 if the child beat its parent, 0.2 if it was
merely valid, 0 otherwise (the engine's own reward scale). Every `mutate_every` observations a
new prompt is derived from the best one so far: by the model when the engine has bound a model
callable (``bind``; those calls carry the purpose ``"prompt_evolution"``), otherwise by a
zero-cost edit (adding or dropping one piece of advice). The archive is capped; the weakest
well-tried prompt leaves first.

Engine hooks this relies on (see docs/self_improvement.md): ``observe(attempt)`` after each
attempt is told, and ``bind(llm)`` with ``llm(messages, purpose=...) -> str`` that counts and
records the call. Without them the strategy still works, but it cannot learn (every prompt
keeps its prior) and only zero-cost mutations happen.

Use it with ``strategy: examples/self_improve/prompt_evolving_strategy.py`` or by subclassing.
"""
from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..search.bandit import Bandit
from ..mutate import prompts
from ..strategy import DefaultStrategy

LLMCallable = Callable[..., str]

HINTS = (
    "Prefer one small, precise change over many.",
    "Read the evaluator feedback first and fix what it points at.",
    "Keep every function name and signature the evaluator uses.",
    "Copy SEARCH lines exactly, including indentation.",
    "Try a genuinely different idea when the score has stalled.",
    "Check edge cases: empty inputs, zero, negative numbers.",
    "Numbers and constants are often the quickest lever on the score.",
)

META_SYSTEM = "You write system prompts for an assistant that edits programs to raise their score."
META_USER = """The assistant's current system prompt:
---
{prompt}
---
With it, {uses} proposals gave {improved} improvements and {valid} valid programs.
Write an improved system prompt: same purpose, clearer, more useful advice. Reply with the new
prompt only, at most 1000 characters."""


@dataclass
class PromptEntry:
    id: str
    text: str
    parent_id: str | None
    origin: str          # seed | model | operator
    uses: int = 0
    valid: int = 0
    improved: int = 0


def _key(system: str, user: str) -> str:
    return hashlib.sha256((system + "\x00" + user[:1000]).encode("utf-8", "replace")).hexdigest()


def split_rendered(prompt: str) -> tuple[str, str] | None:
    """(system, first user message) of a prompt as the engine stores it (``[role]\\ncontent`` blocks)."""
    if not prompt.startswith("[system]\n"):
        return None
    head, sep, rest = prompt[len("[system]\n"):].partition("\n\n[user]\n")
    if not sep:
        return None
    return head, rest.split("\n\n[assistant]\n", 1)[0]


class _Archive:
    """Prompts of one profile ("small" or "large") and their bandit."""

    def __init__(self, seed_text: str, method: str) -> None:
        self.method = method
        self.entries: dict[str, PromptEntry] = {"p0": PromptEntry("p0", seed_text, None, "seed")}
        self.bandit = Bandit(["p0"], method)
        self.observed = 0

    def add(self, entry: PromptEntry, max_prompts: int) -> None:
        self.entries[entry.id] = entry
        if len(self.entries) > max_prompts:
            tried = [e for e in self.entries.values() if e.uses >= 3 and e.id != entry.id]
            if tried:
                worst = min(tried, key=lambda e: self.bandit.probabilities().get(e.id, 0.0))
                del self.entries[worst.id]
        state = self.bandit.state()
        arms = {a: s for a, s in state["arms"].items() if a in self.entries}
        for a in self.entries:
            arms.setdefault(a, {"n": 0.0, "sum": 0.0})
        self.bandit = Bandit.from_state({**state, "arms": arms})

    def best(self) -> PromptEntry:
        probs = self.bandit.probabilities()
        return max(self.entries.values(), key=lambda e: (probs.get(e.id, 0.0), e.uses))


class PromptEvolvingStrategy(DefaultStrategy):
    """The default strategy with an evolving, bandit-chosen system prompt. Thread-safe."""

    name = "prompt_evolution"

    def __init__(self, *, mutate_every: int = 6, max_prompts: int = 8, seed: int = 0, method: str = "thompson",
                 llm: LLMCallable | None = None) -> None:
        self.mutate_every = max(1, mutate_every)
        self.max_prompts = max(2, max_prompts)
        self.method = method
        self._rng = random.Random(seed)
        self._llm = llm
        self._lock = threading.RLock()
        self._archives: dict[str, _Archive] = {}
        self._pending: dict[str, list[tuple[str, str, float | None, str]]] = {}
        self._next_id = 1
        self.history: list[dict[str, Any]] = []   # new prompts and why, for reports

    def bind(self, llm: LLMCallable | None) -> None:
        """Engine hook: ``llm(messages, purpose="prompt_evolution") -> str``, counted and recorded by the engine."""
        self._llm = llm

    # -- proposals -------------------------------------------------------------------------------
    def build_messages(self, **context: Any) -> list[dict[str, str]]:
        messages = prompts.build_messages(**context)
        profile = str(context.get("profile", "large"))
        with self._lock:
            archive = self._archives.get(profile)
            if archive is None:
                archive = self._archives[profile] = _Archive(messages[0]["content"], self.method)
            entry = archive.entries[archive.bandit.choose(self._rng)]
            messages[0] = {"role": "system", "content": entry.text}
            user = next((m["content"] for m in messages if m["role"] == "user"), "")
            self._pending.setdefault(_key(entry.text, user), []).append(
                (profile, entry.id, context.get("parent_score"), str(context.get("direction", "maximize"))))
        return messages

    # -- feedback --------------------------------------------------------------------------------
    def observe(self, attempt: Any) -> None:
        """Engine hook: called with each attempt once it is told (evaluated or failed before)."""
        parts = split_rendered(getattr(attempt, "prompt", "") or "")
        if parts is None:
            return
        with self._lock:
            queue = self._pending.get(_key(*parts))
            if not queue:
                return
            profile, prompt_id, parent_score, direction = queue.pop(0)
            archive = self._archives[profile]
            entry = archive.entries.get(prompt_id)
            if entry is None:  # dropped from the archive meanwhile
                return
            valid = bool(getattr(attempt, "is_program", False))
            score = getattr(attempt, "score", None)
            improved = valid and (parent_score is None or (score > parent_score if direction == "maximize"
                                                           else score < parent_score))
            entry.uses += 1
            entry.valid += valid
            entry.improved += improved
            archive.bandit.update(prompt_id, 1.0 if improved else (0.2 if valid else 0.0))
            archive.observed += 1
            due = archive.observed % self.mutate_every == 0
        if due:
            self._mutate(profile)

    # -- mutation --------------------------------------------------------------------------------
    def _mutate(self, profile: str) -> None:
        with self._lock:
            archive = self._archives[profile]
            parent = archive.best()
            new_id = f"p{self._next_id}"
            self._next_id += 1
        text, origin = None, "operator"
        if self._llm is not None:
            text = self._ask_model(parent)
            origin = "model" if text else "operator"
        if not text:
            text = self._operator(parent.text)
        with self._lock:
            if any(e.text == text for e in archive.entries.values()):
                return
            archive.add(PromptEntry(new_id, text, parent.id, origin), self.max_prompts)
            self.history.append({"profile": profile, "id": new_id, "parent": parent.id, "origin": origin, "text": text})

    def _ask_model(self, parent: PromptEntry) -> str | None:
        messages = [{"role": "system", "content": META_SYSTEM},
                    {"role": "user", "content": META_USER.format(prompt=parent.text, uses=parent.uses,
                                                                 improved=parent.improved, valid=parent.valid)}]
        try:
            assert self._llm is not None
            reply = self._llm(messages, purpose="prompt_evolution")
        except Exception:  # noqa: BLE001 - a failed meta call only means no model-written prompt this time
            return None
        text = (reply or "").strip().strip("`").strip().strip('"').strip()
        return text if 20 <= len(text) <= 2000 else None

    def _operator(self, text: str) -> str:
        unused = [h for h in HINTS if h not in text]
        added = [h for h in HINTS if h in text]
        if added and (not unused or self._rng.random() < 0.3):
            return text.replace(" " + self._rng.choice(added), "").strip()
        return f"{text} {self._rng.choice(unused)}".strip()

    # -- reporting and resume --------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        with self._lock:
            return {profile: {"entries": [asdict(e) for e in a.entries.values()], "bandit": a.bandit.state(),
                              "observed": a.observed} for profile, a in self._archives.items()}

    def load_state(self, state: dict[str, Any]) -> None:
        with self._lock:
            for profile, data in (state or {}).items():
                entries = [PromptEntry(**e) for e in data["entries"]]
                archive = _Archive(entries[0].text, self.method)
                archive.entries = {e.id: e for e in entries}
                archive.bandit = Bandit.from_state(data["bandit"])
                archive.observed = int(data.get("observed", 0))
                self._archives[profile] = archive
                self._next_id = max([self._next_id] + [int(e.id[1:]) + 1 for e in entries if e.id[1:].isdigit()])
