"""Run an untrusted strategy in the sandbox, behind the ordinary Strategy interface.

Why: a strategy found by ``evoforge self-improve`` was written by a model. The engine calls a
strategy in its own process, so loading one with ``strategy: path.py`` would run model-written
code next to the database and the API keys. `SandboxedStrategy` instead runs every call
(``build_messages``, ``temperature`` ...) in a fresh sandboxed process through `Candidate.call`
and checks what comes back, so the engine only ever sees plain, validated data. A strategy that
crashes, hangs, reads files it may not see or returns garbage raises `StrategyFailed` (or, with
``on_failure="default"``, falls back to the default for that call and records why).

Each call is a new process (about 0.1 s under bubblewrap), so sandboxed strategies are stateless
functions of their arguments; ``choose_inspirations`` gets a seeded ``random.Random``.

`check_strategy_source` is the static gate in front of it: standard-library imports from a short
list only, and nothing the safety lint flags. The sandbox is what actually contains a strategy;
the gate gives a clear reason early and keeps evolution from drifting towards such code.
"""
from __future__ import annotations

import ast
import logging
import math
import threading
import uuid
from pathlib import Path
from typing import Any

from ..config import KNOWN_MUTATIONS
from ..errors import EvoforgeError
from ..sandbox import Candidate, CandidateError, SandboxLimits
from ..strategy import DefaultStrategy
from .policy import PolicyError, check_policy

log = logging.getLogger("evoforge.rsi")

ALLOWED_IMPORTS = frozenset({
    "__future__", "random", "math", "re", "json", "textwrap", "typing", "dataclasses", "collections",
    "itertools", "functools", "string", "statistics", "hashlib", "enum", "abc", "heapq", "bisect",
})
IGNORED_LINT_RULES = frozenset({"catch_all"})  # clumsy, not dangerous, in a strategy
MAX_MESSAGE_CHARS = 200_000
ROLES = ("system", "user", "assistant")

ADAPTER = '''

# ---- evoforge sandbox adapter (appended by evoforge.rsi.sandboxed; not part of the strategy) ----
def _evoforge_strategy_call(_evoforge_method, _evoforge_kwargs):
    import random as _evoforge_random
    _impl = globals().get("Strategy")
    _fn = getattr(_impl(), _evoforge_method, None) if isinstance(_impl, type) else None
    if _fn is None:
        _fn = globals().get(_evoforge_method)
    if _fn is None or not callable(_fn):
        return {"defined": False}
    _kwargs = dict(_evoforge_kwargs)
    if "rng_seed" in _kwargs:
        _kwargs["rng"] = _evoforge_random.Random(_kwargs.pop("rng_seed"))
    return {"defined": True, "value": _fn(**_kwargs)}
'''


class StrategyFailed(EvoforgeError):
    """The strategy crashed, timed out or returned something unusable: an invalid candidate."""


def check_strategy_source(code: str) -> list[str]:
    """Reasons why `code` is not an acceptable strategy (empty when it is)."""
    from ..safety import lint

    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        return [f"does not parse: line {exc.lineno}: {exc.msg}"]
    problems: list[str] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = ["." if node.level else (node.module or "")]
        for name in names:
            if name.split(".")[0] not in ALLOWED_IMPORTS:
                problems.append(f"line {node.lineno}: imports {name!r}; strategies may import only "
                                f"{', '.join(sorted(ALLOWED_IMPORTS - {'__future__'}))}")
    for finding in lint(code):
        if finding.rule not in IGNORED_LINT_RULES:
            problems.append(str(finding))
    if "_evoforge_strategy_call" in code:
        problems.append("defines or uses _evoforge_strategy_call, a name reserved for the sandbox adapter")
    return problems


def _check_messages(value: Any) -> list[dict[str, str]]:
    if not isinstance(value, list) or not value or len(value) > 50:
        raise StrategyFailed("build_messages must return a non-empty list of at most 50 messages")
    total = 0
    out = []
    for m in value:
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise StrategyFailed("each message must be a dict with role (system/user/assistant) and string content")
        total += len(m["content"])
        out.append({"role": m["role"], "content": m["content"]})
    if total > MAX_MESSAGE_CHARS:
        raise StrategyFailed(f"the messages hold {total} characters, more than the {MAX_MESSAGE_CHARS} allowed")
    if not any(m["role"] == "user" for m in out):
        raise StrategyFailed("build_messages returned no user message")
    return out


def _check_weights(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise StrategyFailed("mutation_weights must return a non-empty dict of kind -> weight")
    out: dict[str, float] = {}
    for kind, w in value.items():
        if kind not in KNOWN_MUTATIONS:
            raise StrategyFailed(f"mutation_weights returned unknown kind {kind!r} (known: {', '.join(KNOWN_MUTATIONS)})")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0:
            raise StrategyFailed(f"mutation_weights[{kind!r}] must be a finite number ≥ 0, got {w!r}")
        out[kind] = float(w)
    if not any(w > 0 for w in out.values()):
        raise StrategyFailed("mutation_weights gave every kind a weight of 0")
    return out


class SandboxedStrategy(DefaultStrategy):
    """A strategy whose code runs only inside the sandbox. Thread-safe; `close()` when done."""

    def __init__(self, code: str, *, name: str = "sandboxed", isolation: str = "auto", timeout: float = 10.0,
                 memory_mb: int = 1024, on_failure: str = "raise") -> None:
        if on_failure not in ("raise", "default"):
            raise ValueError("on_failure must be 'raise' or 'default'")
        self.name = name
        self.code = code
        self.timeout = timeout
        self.on_failure = on_failure
        self.failures: list[str] = []
        self.calls = 0
        self._memo: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        limits = SandboxLimits(memory_mb=memory_mb, max_processes=16, file_size_mb=16, max_output_bytes=64 << 10)
        self._candidate = Candidate.create(code + ADAPTER, filename="strategy.py", isolation=isolation, limits=limits)

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> SandboxedStrategy:
        path = Path(path)
        return cls(path.read_text(encoding="utf-8"), name=path.stem, **kwargs)

    def close(self) -> None:
        self._candidate.close()

    def __enter__(self) -> SandboxedStrategy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, message: str) -> None:
        with self._lock:
            self.failures.append(message)
        if self.on_failure == "raise":
            raise StrategyFailed(message)
        log.warning("strategy %s: %s (using the default for this call)", self.name, message)

    def _call(self, method: str, **kwargs: Any) -> tuple[bool, Any]:
        """(defined, value) of ``method(**kwargs)`` run in the sandbox."""
        with self._lock:
            self.calls += 1
            try:
                out = self._candidate.call("_evoforge_strategy_call", method, kwargs, timeout=self.timeout)
            except CandidateError as exc:
                out = exc
            except TypeError as exc:  # arguments that are not plain data: an engine-side problem
                raise StrategyFailed(f"cannot send the arguments of {method}() to the sandbox: {exc}") from None
        if isinstance(out, CandidateError):
            self._fail(f"{method}() failed in the sandbox: {out.summary}")
            return False, None
        if not isinstance(out, dict) or "defined" not in out:
            self._fail(f"{method}() answered with something that is not the adapter's reply")
            return False, None
        return bool(out["defined"]), out.get("value")

    def _guarded(self, method: str, check: Any, fallback: Any, **kwargs: Any) -> Any:
        defined, value = self._call(method, **kwargs)
        if not defined:
            return fallback()
        try:
            return check(value)
        except StrategyFailed as exc:
            self._fail(f"{method}(): {exc}")
            return fallback()

    # -- the Strategy interface ----------------------------------------------------------------
    def build_messages(self, **context: Any) -> list[dict[str, str]]:
        return self._guarded("build_messages", _check_messages, lambda: super(SandboxedStrategy, self).build_messages(**context),
                             **context)

    def retry_messages(self, messages: list[dict[str, str]], reply: str, error_reason: str) -> list[dict[str, str]]:
        return self._guarded("retry_messages", _check_messages,
                             lambda: super(SandboxedStrategy, self).retry_messages(messages, reply, error_reason),
                             messages=messages, reply=reply, error_reason=error_reason)

    def mutation_weights(self, weights: dict[str, float]) -> dict[str, float]:
        key = ("mutation_weights", repr(sorted(weights.items())))
        if key not in self._memo:  # stateless in the sandbox, so the answer can be kept
            self._memo[key] = self._guarded("mutation_weights", _check_weights, lambda: dict(weights), weights=dict(weights))
        return dict(self._memo[key])

    def temperature(self, base: float, repeats: int) -> float:
        key = ("temperature", f"{base!r}/{repeats}")
        if key not in self._memo:
            def check(value: Any) -> float:
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise StrategyFailed(f"temperature must return a finite number, got {value!r}")
                return min(2.0, max(0.0, float(value)))
            self._memo[key] = self._guarded("temperature", check, lambda: super(SandboxedStrategy, self).temperature(base, repeats),
                                            base=base, repeats=repeats)
        return float(self._memo[key])

    def config_overrides(self) -> dict[str, Any]:
        """The strategy's numeric policy for inner runs (`policy.check_policy`), asked once."""
        key = ("config_overrides", "")
        if key not in self._memo:
            def check(value: Any) -> dict[str, Any]:
                try:
                    return check_policy(value)
                except PolicyError as exc:
                    raise StrategyFailed(str(exc)) from None
            self._memo[key] = self._guarded("config_overrides", check, dict)
        return dict(self._memo[key])

    def choose_inspirations(self, candidates: list[dict[str, Any]], k: int, rng: Any) -> list[str]:
        def check(value: Any) -> list[str]:
            if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
                raise StrategyFailed(f"choose_inspirations must return a list of ids, got {value!r}"[:300])
            return value[:k]
        seed = int(rng.random() * 2**31) if rng is not None else 0
        plain = [{"id": str(c.get("id")), "fitness": c.get("fitness"), **({"score": c["score"]} if "score" in c else {})}
                 for c in candidates]
        return self._guarded("choose_inspirations", check,
                             lambda: super(SandboxedStrategy, self).choose_inspirations(candidates, k, rng),
                             candidates=plain, k=k, rng_seed=seed)


# -- handing a live SandboxedStrategy to an engine through a strategy file ----------------------
_REGISTRY: dict[str, SandboxedStrategy] = {}


def register(strategy: SandboxedStrategy) -> str:
    """Make `strategy` reachable from a generated proxy file in this process; returns its token."""
    token = uuid.uuid4().hex
    _REGISTRY[token] = strategy
    return token


def unregister(token: str) -> None:
    _REGISTRY.pop(token, None)


def lookup(token: str) -> SandboxedStrategy:
    try:
        return _REGISTRY[token]
    except KeyError:
        raise StrategyFailed(f"no sandboxed strategy registered as {token} in this process") from None


_METHODS = ("build_messages", "retry_messages", "mutation_weights", "temperature", "choose_inspirations",
            "config_overrides")


def proxy_source(token: str) -> str:
    """A strategy file (for ``strategy: PATH``) whose functions call a registered strategy."""
    lines = ['"""Generated by evoforge.rsi: forwards every call to a sandboxed strategy."""',
             "from evoforge.rsi.sandboxed import lookup", f"_s = lookup({token!r})"]
    lines += [f"{m} = _s.{m}" for m in _METHODS]
    return "\n".join(lines) + "\n"


def file_proxy_source(path: str | Path, *, on_failure: str = "default") -> str:
    """A strategy file that runs the strategy at `path` in the sandbox (for ordinary runs)."""
    target = str(Path(path).resolve())
    lines = ['"""Generated by evoforge.rsi: runs the strategy below in the sandbox, never in the engine."""',
             "import atexit", "from evoforge.rsi.sandboxed import SandboxedStrategy",
             f"_s = SandboxedStrategy.from_file({target!r}, on_failure={on_failure!r})", "atexit.register(_s.close)"]
    lines += [f"{m} = _s.{m}" for m in _METHODS]
    return "\n".join(lines) + "\n"
