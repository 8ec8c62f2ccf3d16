"""Fixtures for the LLM tests: a real scripted OpenAI-compatible server and a clean environment
(no API keys, base URLs or .env leaking in from the developer's machine)."""
from __future__ import annotations

import pytest

from evoforge.llm import pricing
from evoforge.testing.pytest_plugin import openai_server  # noqa: F401 - re-exported fixture

_ENV = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY",
        "OPENROUTER_API_KEY", "DEEPSEEK_API_KEY", "EVOFORGE_MODEL", "VLLM_BASE_URL", "VLLM_API_KEY",
        "LLAMACPP_BASE_URL", "LLAMACPP_API_KEY", "OLLAMA_BASE_URL")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    pricing._reset_warnings()
