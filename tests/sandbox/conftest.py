"""Fixtures for the sandbox tests: real subprocesses, real isolation levels, no mocks."""
from __future__ import annotations

import textwrap

import pytest
from sandbox_helpers import AVAILABLE, level_id

from evoforge.sandbox import Candidate, SandboxLimits
from evoforge.sandbox.isolation import IsolationLevel


@pytest.fixture(params=AVAILABLE, ids=level_id)
def level(request) -> IsolationLevel:
    return request.param


@pytest.fixture
def make_candidate(level):
    """make_candidate(code, **limits) -> Candidate under the parametrized isolation level."""
    made: list[Candidate] = []

    def make(code: str, filename: str = "initial.py", **limits) -> Candidate:
        cand = Candidate.create(textwrap.dedent(code), filename=filename, isolation=level,
                                limits=SandboxLimits(**limits))
        made.append(cand)
        return cand

    yield make
    for cand in made:
        cand.close()
