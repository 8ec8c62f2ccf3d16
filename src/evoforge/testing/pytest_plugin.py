"""pytest fixtures for evoforge. Enable with ``pytest_plugins = ["evoforge.testing.pytest_plugin"]``
in a root ``conftest.py`` (or import the fixtures by name).

``openai_server`` yields a started, empty `ScriptedOpenAIServer`; tests push their script::

    def test_x(openai_server):
        openai_server.push(reply("hello"))
        llm = create_provider(f"openai/test@{openai_server.base_url}", retry=False)
"""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from .openai_server import ScriptedOpenAIServer


@pytest.fixture
def openai_server() -> Iterator[ScriptedOpenAIServer]:
    """A fresh scripted OpenAI-compatible server on 127.0.0.1 for one test."""
    with ScriptedOpenAIServer() as server:
        yield server
