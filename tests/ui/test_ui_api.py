"""The dashboard's JSON API and server rules, over real HTTP, without a browser."""
from __future__ import annotations

import http.client
import json
import re
import signal
import subprocess
import sys
import urllib.request

import pytest
from ui_helpers import get

from evoforge.cli import main as cli_main
from evoforge.errors import UserError
from evoforge.program import AttemptStatus
from evoforge.ui import data
from evoforge.ui.server import is_loopback, make_server, read_asset
from evoforge.ui.sources import RunRegistry


def test_runs_lists_every_run_with_its_attempt_count(dashboard, ui_runs, storage_of):
    status, _, body = get(dashboard, "/api/runs")
    assert status == 200
    by_key = {r["key"]: r for r in body["runs"]}
    assert set(by_key) == {ui_runs.main_id, ui_runs.other_id}
    for run in (ui_runs.main, ui_runs.other):
        store, info = storage_of(run)
        brief = by_key[info.id]
        assert brief["attempts"] == store.count_attempts(info.id) > 5
        assert brief["best"]["score"] == pytest.approx(store.best_attempts(info.id, 1)[0].score)
        assert brief["direction"] == "maximize"


def test_poll_is_incremental_and_complete(dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    status, _, first = get(dashboard, f"/api/runs/{info.id}/poll?since_index=0")
    assert status == 200
    rows = first["attempts"]
    assert [r["id"] for r in rows] == [a.id for a in store.attempts(info.id, with_code=False)]
    assert first["next_since"] == max(r["index"] for r in rows) + 1
    assert "code" not in rows[0] and "prompt" not in rows[0]  # light rows only
    _, _, again = get(dashboard, f"/api/runs/{info.id}/poll?since_index={first['next_since']}")
    assert again["attempts"] == []
    _, _, tail = get(dashboard, f"/api/runs/{info.id}/poll?since_index=5")
    assert [r["index"] for r in tail["attempts"]] == [r["index"] for r in rows if r["index"] >= 5]
    # cost so far: monotone along the run and ending at the run's total spend
    costs = [r["cum_cost"] for r in rows]
    assert costs == sorted(costs)
    assert costs[-1] == pytest.approx(store.usage_totals(info.id)["cost_usd"])
    assert first["usage"]["calls"] == 20
    assert first["kinds"] and all("trials" in v for v in first["kinds"].values())
    assert first["events"]["insight"] == 2


def test_next_since_restarts_at_attempts_still_in_flight():
    rows = [{"index": 3, "status": "ok"}, {"index": 4, "status": "pending"}, {"index": 5, "status": "pending"},
            {"index": 6, "status": "ok"}]
    assert data.next_since(rows, 3) == 4
    assert data.next_since([{"index": 3, "status": "ok"}], 3) == 4
    assert data.next_since([], 7) == 7


def test_attempt_detail_has_code_diff_prompt_and_reply(dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    child = next(a for a in store.attempts(info.id) if a.model and a.status is AttemptStatus.OK)
    status, _, body = get(dashboard, f"/api/runs/{info.id}/attempts/{child.id}")
    assert status == 200
    assert body["code"] == child.code
    assert body["prompt"] == child.prompt and body["prompt"]
    assert body["response"] == child.response and "SEARCH" in body["response"]
    assert body["diff"].startswith("--- parent") and "+    VALUE" in body["diff"]
    assert body["metrics"]["value"] == child.metrics["value"]
    assert body["private_score"] == pytest.approx(child.private_score)
    assert body["cost_usd"] > 0 and body["calls"][0]["model"] == child.model
    parent = store.get_attempt(child.parent_id)
    assert body["parent_score"] == pytest.approx(parent.score)
    status, _, err = get(dashboard, f"/api/runs/{info.id}/attempts/nope")
    assert status == 404 and "nope" in err["error"]


def test_usage_failures_and_events(dashboard, ui_runs, storage_of):
    store, info = storage_of(ui_runs.main)
    _, _, usage = get(dashboard, f"/api/runs/{info.id}/usage")
    assert len(usage["models"]) == 2
    assert sum(m["calls"] for m in usage["models"]) == store.usage_totals(info.id)["calls"]
    assert sum(m["cost_usd"] for m in usage["models"]) == pytest.approx(store.usage_totals(info.id)["cost_usd"])
    assert set(usage["kinds"]) == set(store.get_state(info.id, "kinds"))
    _, _, fails = get(dashboard, f"/api/runs/{info.id}/failures")
    attempts = store.attempts(info.id, with_code=False)
    assert fails["failed"] == sum(1 for a in attempts if not a.is_program)
    assert sum(g["count"] for g in fails["reasons"]) == fails["failed"]
    _, _, events = get(dashboard, f"/api/runs/{info.id}/events?kind=insight")
    assert [e["kind"] for e in events["events"]] == ["insight", "insight"]
    status, _, _ = get(dashboard, "/api/runs/no-such-run/poll")
    assert status == 404
    status, _, body = get(dashboard, f"/api/runs/{info.id}/poll?since_index=abc")
    assert status == 400 and "since_index" in body["error"]


def test_reason_key_folds_numbers_and_ids():
    a = data.reason_key("candidate raised ValueError at line 12 (0x7f3a) in program 78c76ad1e2")
    b = data.reason_key("candidate raised ValueError at line 40 (0x1b2c) in program 1234abcd99")
    assert a == b


def test_static_app_is_bundled_and_strict(dashboard):
    status, headers, body = get(dashboard, "/")
    assert status == 200 and b"<script src=\"/assets/app.js\">" in body
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    for name in ("app.js", "plots.js", "views.js", "views_more.js", "views_files.js", "views_front.js", "app.css", "favicon.svg"):
        status, headers, asset = get(dashboard, f"/assets/{name}")
        assert status == 200 and len(asset) > 100, name
        # no CDN, no external fetch: the only absolute URL allowed is the SVG namespace name
        urls = set(re.findall(rb"https?://[^\s\"'`)]+", asset))
        assert urls <= {b"http://www.w3.org/2000/svg"}, (name, urls)
    for bad in ("/assets/../server.py", "/assets/%2e%2e/server.py", "/assets/.hidden", "/etc/passwd"):
        assert get(dashboard, bad)[0] == 404
    assert read_asset("../server.py") is None


def test_writes_are_refused(dashboard):
    host, port = dashboard.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=60)
    conn.request("POST", "/api/runs", body=b"{}")
    res = conn.getresponse()
    assert res.status == 405
    conn.close()


def test_storages_are_opened_read_only(ui_runs):
    registry = RunRegistry([str(ui_runs.main)])
    try:
        assert all(getattr(s, "read_only", False) for s in registry._stores)
        handle = registry.runs()[0]
        with pytest.raises(UserError):
            handle.storage.add_event(handle.key, "alert", {"message": "x"})
    finally:
        registry.close()


def test_only_loopback_by_default(ui_runs, dashboard):
    registry = RunRegistry([str(ui_runs.main)])
    try:
        with pytest.raises(UserError, match="loopback"):
            make_server(registry, "0.0.0.0", 0)
        with pytest.raises(UserError, match="loopback"):
            make_server(registry, "8.8.8.8", 0)
    finally:
        registry.close()
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.10")
    # DNS rebinding: a page on another site that resolves to 127.0.0.1 still sends its own Host
    status, _, body = get(dashboard, "/api/runs", headers={"Host": "attacker.example:8765"})
    assert status == 403 and "Host" in body["error"]
    assert get(dashboard, "/api/runs", headers={"Host": f"localhost:{dashboard.server_address[1]}"})[0] == 200


def test_cli_refuses_remote_binding_and_bad_runs(ui_runs, tmp_path, capsys):
    assert cli_main(["ui", str(ui_runs.main), "--host", "0.0.0.0", "--port", "0"]) == 2
    assert "loopback" in capsys.readouterr().err
    assert cli_main(["ui", str(tmp_path / "missing")]) == 2
    assert "no run at" in capsys.readouterr().err
    assert cli_main(["ui", f"sqlite:///{ui_runs.main / 'run.db'}#nosuchrun", "--port", "0"]) == 2
    assert "nosuchrun" in capsys.readouterr().err


def test_registry_accepts_urls_and_dedupes(ui_runs):
    url = f"sqlite:///{(ui_runs.main / 'run.db').resolve()}"
    registry = RunRegistry([url, str(ui_runs.main), str(ui_runs.main / "run.db"), f"{url}#main"])
    try:
        assert [h.info.name for h in registry.runs()] == ["main"]
        assert len(registry._stores) == 1
    finally:
        registry.close()


def test_served_over_real_urllib(dashboard):
    with urllib.request.urlopen(dashboard.url + "api/health", timeout=60) as res:
        assert json.loads(res.read()) == {"ok": True}


def _terminal_like_sigint() -> None:
    """SIGINT as a terminal's Ctrl-C finds it: handled and unblocked. A child inherits its parent's
    signal disposition and mask, and a test worker that ran the rest of the suite first may have
    SIGINT ignored or blocked (the command then never sees the signal: seen in CI, not by users)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


def test_evoforge_ui_command_serves_and_stops_on_ctrl_c(ui_runs):
    """The real command line: prints its address, serves the API, exits 0 on Ctrl-C."""
    proc = subprocess.Popen([sys.executable, "-m", "evoforge", "ui", str(ui_runs.main), str(ui_runs.other), "--port", "0"],
                            stderr=subprocess.PIPE, text=True, preexec_fn=_terminal_like_sigint)
    try:
        line = proc.stderr.readline()
        match = re.search(r"(http://127\.0\.0\.1:\d+/)", line)
        assert match, line
        assert "main" in line and "other" in line
        with urllib.request.urlopen(match.group(1) + "api/runs", timeout=120) as res:
            assert len(json.loads(res.read())["runs"]) == 2
        proc.send_signal(signal.SIGINT)
        # a hang guard only (exit takes ~0.3 s; CI machines under load were seen past 10 s)
        assert proc.wait(timeout=300) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_evoforge_ui_command_stops_cleanly_on_sigterm(ui_runs):
    """kill, docker stop and systemd send SIGTERM: the command closes its runs and exits 0."""
    proc = subprocess.Popen([sys.executable, "-m", "evoforge", "ui", str(ui_runs.main), "--port", "0"],
                            stderr=subprocess.PIPE, text=True, preexec_fn=_terminal_like_sigint)
    try:
        assert "http://127.0.0.1:" in proc.stderr.readline()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=300) == 0   # a hang guard only
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
