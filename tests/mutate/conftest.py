"""Fixtures shared by the mutate tests: programs with one and several evolve blocks."""
from __future__ import annotations

import pytest
from mutate_fixtures import CPP_MULTI, PY_MULTI, PY_SINGLE


@pytest.fixture
def py_single() -> str:
    return PY_SINGLE


@pytest.fixture
def py_multi() -> str:
    return PY_MULTI


@pytest.fixture
def cpp_multi() -> str:
    return CPP_MULTI
