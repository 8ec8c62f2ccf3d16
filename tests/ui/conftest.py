"""Dashboard test fixtures: real run databases (made by evoforge.run against a scripted model),
a dashboard server on a free loopback port, and headless Chromium driven by Selenium with the
system chromedriver (Debian packages chromium + chromium-driver; nothing is downloaded)."""
from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import ui_multi
import ui_rundb

from evoforge.engine.session import locate_run
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.ui.server import DashboardServer, start_in_thread
from evoforge.ui.sources import RunRegistry

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@dataclass
class Runs:
    """Two real runs of the same task (the first with safety and insight events added)."""

    main: Path
    other: Path
    main_id: str
    other_id: str


@pytest.fixture(scope="session")
def ui_runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    root = tmp_path_factory.mktemp("ui_runs")
    task = ui_rundb.write_task(root / "task")
    with ScriptedOpenAIServer(responder=ui_rundb.make_responder(0)) as srv:
        first = ui_rundb.llm_run(task, root / "main", srv.base_url, calls=20, seed=0, **{
            "search.map_elites": [{"name": "value", "min": 0.0, "max": 20.0, "bins": 10},
                                  {"name": "spread", "min": 0.0, "max": 2.0, "bins": 4}]})
    with ScriptedOpenAIServer(responder=ui_rundb.make_responder(1)) as srv:
        second = ui_rundb.llm_run(task, root / "other", srv.base_url, calls=10, seed=1)
    ui_rundb.add_events(root / "main" / "run.db", first.run_id)
    return Runs(root / "main", root / "other", first.run_id, second.run_id)


@pytest.fixture(scope="session")
def dashboard(ui_runs: Runs) -> Iterator[DashboardServer]:
    registry = RunRegistry([str(ui_runs.main), str(ui_runs.other)])
    server = start_in_thread(registry)
    yield server
    server.shutdown()
    server.server_close()
    registry.close()


@dataclass
class MultiRuns:
    """A real three-objective run and a storage of multi-file programs (bundles)."""

    mo: Path
    mo_id: str
    bundles: ui_multi.BundleRun


@pytest.fixture(scope="session")
def multi_runs(tmp_path_factory: pytest.TempPathFactory) -> MultiRuns:
    root = tmp_path_factory.mktemp("ui_multi")
    mo = ui_multi.many_objective_run(root)
    store, info, _ = locate_run(str(mo), read_only=True)
    store.close()
    return MultiRuns(mo, info.id, ui_multi.bundle_run(root / "bundles"))


@pytest.fixture(scope="session")
def multi_dashboard(multi_runs: MultiRuns) -> Iterator[DashboardServer]:
    registry = RunRegistry([str(multi_runs.mo), str(multi_runs.bundles.db)])
    server = start_in_thread(registry)
    yield server
    server.shutdown()
    server.server_close()
    registry.close()


@pytest.fixture
def storage_of() -> Iterator[Callable[[Path], Any]]:
    """Open a run read-only for assertions; closed after the test."""
    opened: list[Any] = []

    def open_(run: Path) -> tuple[Any, Any]:
        store, info, _ = locate_run(str(run), read_only=True)
        opened.append(store)
        return store, info

    yield open_
    for store in opened:
        store.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("headless Chromium is not installed (Debian packages chromium and chromium-driver; "
                    "bash .ci/run installs them when run as root)")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:  # a missing test dependency is a failure, not a skip
        pytest.fail("the dashboard tests need Selenium: pip install 'evoforge[test]' (or pip install selenium)")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let selenium-manager download a driver
    profile = tempfile.mkdtemp(prefix="evoforge-chromium-")
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1300,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
