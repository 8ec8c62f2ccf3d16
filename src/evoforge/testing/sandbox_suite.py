"""A conformance suite that every sandbox isolation level must pass.

In the spirit of Optuna's ``testing/pytest_storages.py``: one set of tests, run against each
implementation. Subclass `SandboxTestCase` once per level::

    from evoforge.testing.sandbox_suite import SandboxTestCase

    class TestBwrap(SandboxTestCase):
        level = "bwrap"

Every test checks one *property* of the sandbox (see `PROPERTIES`). The levels do not all
promise the same things (``isolation.py`` says so aloud): file-system hiding is bubblewrap's
and Landlock's, the network is closed by all but a plain subprocess, and so on.
Where a level does not promise a property the test is *not* skipped: it runs, and it must
fail with `Breach` - pytest reports it as ``xfailed`` with the documented reason. If such a
test passes (``XPASS(strict)``, a failure), the table below is out of date: the level is
stronger than it claims, update `PROPERTIES` and the level's description together. A test
that fails in any other way (an exception, a wrong error message) is a real failure.

The checks are real: real processes, a real TCP listener and unix sockets that record what
reaches them, real files on the host that must not change, real marker processes that must
be gone. Only the standard library, pytest and evoforge are needed (numpy is not).
"""
from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from evoforge.sandbox import (
    Candidate,
    IsolationLevel,
    Result,
    SandboxLimits,
    warm,
)
from evoforge.sandbox.isolation import probe
from evoforge.testing.sandbox_checks_boundary import BoundaryChecks
from evoforge.testing.sandbox_checks_folder import FolderChecks
from evoforge.testing.sandbox_checks_limits import LimitChecks
from evoforge.testing.sandbox_checks_run import RunChecks
from evoforge.testing.sandbox_observers import (
    Listener,
    kill_marked,
    new_marker,
    processes_with,
    tree_digest,
    wait_gone,
)
from evoforge.testing.sandbox_properties import (
    ALLOWED_ENV,
    PROPERTIES,
    SECRET_ENV,
    Breach,
    Property,
    available_levels,
    breach_if,
    conditions,
    expectation_table,
    memory_cgroup_works,
    provides,
)


class SandboxTestCase(RunChecks, LimitChecks, BoundaryChecks, FolderChecks):
    """Subclass with ``level = "bwrap" | "landlock" | "unshare" | "none"`` (name the subclass
    ``Test...``).

    The fixtures give each test a fresh `make_candidate`, a `listener` and a secret-laden
    parent environment; the autouse `_sandbox_expectation` fixture turns a property that the
    level does not promise into a strict expected failure (``raises=Breach``).
    """

    level: str = ""
    limits = SandboxLimits(memory_mb=512, max_processes=64, file_size_mb=16, open_files=256,
                           max_output_bytes=64_000, max_result_bytes=1_000_000)
    timeout = 20.0

    # -- fixtures ---------------------------------------------------------------------------
    @pytest.fixture(autouse=True, params=["cold", "warm"])
    def sandbox_mode(self, request: pytest.FixtureRequest,
                     monkeypatch: pytest.MonkeyPatch) -> str:
        """Every check runs twice: calls started cold, and forked from a warm zygote
        (`evoforge.sandbox.warm`); warm is skipped at levels that stay cold. The switch is the
        environment variable, so evaluator hosts started by a check agree."""
        mode = str(request.param)
        level = IsolationLevel.parse(self.level)
        if mode == "warm" and not warm.supported(level):
            pytest.skip(f"warm sandboxes stay cold at '{self.level}' (evoforge.sandbox.warm)")
        monkeypatch.setenv("EVOFORGE_SANDBOX_WARM", "1" if mode == "warm" else "0")
        return mode

    @pytest.fixture(autouse=True)
    def _sandbox_expectation(self, request: pytest.FixtureRequest) -> None:
        level = IsolationLevel.parse(self.level)
        if not probe(level):
            pytest.skip(f"isolation level '{self.level}' is not usable on this machine "
                        f"({level.describe()})")
        name = getattr(request.function, "sandbox_property", None)
        if name is None:
            return
        facts = conditions()
        prop = PROPERTIES[name]
        if not prop.provided(level, facts):
            request.applymarker(pytest.mark.xfail(
                strict=True, raises=Breach,
                reason=f"[{self.level}] {prop.name}: {prop.why_not(level)}"))

    @property
    def isolation(self) -> IsolationLevel:
        return IsolationLevel.parse(self.level)

    @pytest.fixture
    def make_candidate(self, sandbox_mode: str) -> Iterator[Callable[..., Candidate]]:
        made: list[Candidate] = []

        def make(code: str, filename: str = "initial.py", parent_dir: Any = None,
                 entry: str | None = None, **limits: Any) -> Candidate:
            merged = {**self.limits.to_json(), **limits}
            cand = Candidate.create(textwrap.dedent(code), filename=filename,
                                    isolation=self.isolation, limits=SandboxLimits(**merged),
                                    parent_dir=parent_dir, entry=entry)
            made.append(cand)
            return cand

        yield make
        for cand in made:
            cand.close()
        # the warm variant must really have been warm, and the cold one cold
        warm_calls = sum(cand.n_warm_calls for cand in made)
        if sandbox_mode == "cold":
            assert warm_calls == 0, "a call was forked from a zygote with warm sandboxes off"
        elif any(cand.n_calls for cand in made):
            assert warm_calls > 0, "no call was forked from a zygote with warm sandboxes on"

    @pytest.fixture
    def listener(self, tmp_path: Path) -> Iterator[Listener]:
        folder = tmp_path / "sockets"
        folder.mkdir()
        lst = Listener(folder)
        try:
            yield lst
        finally:
            lst.close()

    @pytest.fixture
    def secret_env(self, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
        for key, value in SECRET_ENV.items():
            monkeypatch.setenv(key, value)
        return dict(SECRET_ENV)

    @pytest.fixture
    def marker(self) -> Iterator[str]:
        mark = new_marker()
        try:
            yield mark
        finally:
            kill_marked(mark)



__all__ = [
    "ALLOWED_ENV",
    "PROPERTIES",
    "SECRET_ENV",
    "Breach",
    "Listener",
    "Property",
    "Result",
    "SandboxTestCase",
    "available_levels",
    "breach_if",
    "conditions",
    "expectation_table",
    "kill_marked",
    "memory_cgroup_works",
    "new_marker",
    "processes_with",
    "provides",
    "tree_digest",
    "wait_gone",
]
