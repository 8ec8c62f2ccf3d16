"""Helpers for driving the dashboard in the browser: waiting, opening views, screenshots."""
from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evoforge.ui.server import DashboardServer

REPO = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO / "artifacts" / "screenshots"


def wait_for(driver: Any, condition: Callable[[Any], Any], timeout: float = 180.0, what: str = "condition") -> Any:
    """Poll `condition(driver)` until truthy; fail with `what` and the browser's console."""
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition(driver)
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - stale elements while the app re-renders
            last_exc = exc
        time.sleep(0.1)
    logs = [e.get("message") for e in driver.get_log("browser")] if hasattr(driver, "get_log") else []
    raise AssertionError(f"timed out waiting for {what} (last error: {last_exc}; console: {logs})")


def screenshot(driver: Any, name: str) -> Path:
    """Save a full-page screenshot of the current view under artifacts/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1300, min(3200, max(1000, int(height) + 20)))
    time.sleep(0.2)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    driver.set_window_size(1300, 1000)
    return path


def open_view(driver: Any, server: DashboardServer, hash_: str) -> None:
    """Load the app at a route and wait until the view has drawn."""
    driver.get(server.url + "#/" + hash_.lstrip("#/"))
    driver.execute_script("window.location.reload()")
    wait_for(driver, lambda d: d.execute_script(
        "const v = document.querySelector('#view .view, #view .attempt-page');"
        "return !!v && !document.querySelector('#view .loading');"), what=f"view {hash_} to draw")


def get(server: DashboardServer, path: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    """GET `path` from the dashboard over real HTTP: (status, lower-cased headers, JSON or bytes)."""
    host, port = server.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    try:
        conn.request("GET", path, headers=headers or {})
        res = conn.getresponse()
        body = res.read()
        ctype = res.getheader("Content-Type", "")
        value = json.loads(body) if ctype.startswith("application/json") else body
        return res.status, {k.lower(): v for k, v in res.getheaders()}, value
    finally:
        conn.close()
