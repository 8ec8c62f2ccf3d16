"""Shared fixtures: small task folders written on the fly, and a scripted OpenAI-protocol server."""
from __future__ import annotations

from pathlib import Path

import pytest

from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import increment_responder, write_task


@pytest.fixture
def value_task(tmp_path) -> Path:
    return write_task(tmp_path / "value_task")


@pytest.fixture
def llm_server():
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        yield srv


@pytest.fixture
def model_spec(llm_server) -> str:
    return f"openai/scripted@{llm_server.base_url}"


def pytest_collection_modifyitems(config, items):
    """Under pytest-xdist (`--dist loadgroup`), the Ray tests share one worker: they drive one
    local Ray cluster per session, and two such clusters would only compete for the same cores."""
    for item in items:
        if "tests/executors/" in item.nodeid or item.nodeid.startswith("executors/"):
            item.add_marker(pytest.mark.xdist_group("ray"))
