"""`ray://HOST:PORT`: a controller joining a separately started Ray cluster through Ray Client.

The cluster is a real `ray start --head --block` in its own session and temp folder (so it
cannot be mistaken for anyone else's cluster), stopped by killing its process group. The
controller runs in a subprocess because this test process already has a Ray connection."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from executor_helpers import make_task

pytestmark = pytest.mark.slow

CONTROLLER = """
import sys
from evoforge.executors.base import EvaluationRequest
from evoforge.executors.ray_executor import RayExecutor
address, task = sys.argv[1], sys.argv[2]
ex = RayExecutor(address, ship_task="always")
assert ex.client_mode and not ex.started_cluster
code = open(task + "/initial.py").read()
ok = ex.evaluate(EvaluationRequest(task_path=task, code=code, timeout=120))
bad = ex.evaluate(EvaluationRequest(task_path=task, code=code.replace("return VALUE", "return 1/0"), timeout=120))
print("RESULT", ok.status, ok.score, bad.status, "ZeroDivisionError" in bad.reason, ex.history[-1]["resources"])
ex.close()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head():
    ray_bin = Path(sys.executable).parent / "ray"
    if not ray_bin.exists():
        pytest.skip("the `ray` command is not installed next to this Python")
    pytest.importorskip("grpc", reason="Ray Client needs ray[client] (grpcio)")
    temp = tempfile.mkdtemp(prefix="rayc", dir="/tmp")  # short: Ray puts unix sockets in it
    gcs, client = _free_port(), _free_port()
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={gcs}", f"--ray-client-server-port={client}",
         "--num-cpus=1", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}"],
        start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "RAY_ADDRESS": ""})
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", client)) == 0:
                break
        if head.poll() is not None:
            pytest.fail(f"ray start --head exited: {head.stdout.read()[-2000:]}")
        time.sleep(0.5)
    else:
        os.killpg(head.pid, signal.SIGKILL)
        pytest.fail("the Ray Client server did not open its port within 90s")
    yield f"ray://127.0.0.1:{client}"
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(head.pid, sig)
            head.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
        except ProcessLookupError:
            break
    try:  # the head's group may still hold stragglers (raylet children) after its leader exits
        os.killpg(head.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def test_controller_joins_a_cluster_through_ray_client(ray_head, tmp_path):
    task = make_task(tmp_path / "t", 'return Result(score=float(candidate.call("value", timeout=10)))')
    out = subprocess.run([sys.executable, "-c", CONTROLLER, f"{ray_head}?cpus=1&retries=1", str(task)],
                         capture_output=True, text=True, timeout=180, env={**os.environ, "RAY_ADDRESS": ""})
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    ray_client_failed = ("Starting Ray client server failed" in out.stderr
                         or ("Initialization failure from server" in out.stderr
                             and "ray/util/client/server" in out.stderr))
    if out.returncode != 0 and ray_client_failed:
        # Ray's own per-client server could not start on this machine (seen under heavy load, with
        # the head's runtime-env agent address reported as port 0, or Ray's proxier tripping over a
        # zombie process): an environment failure of Ray Client, not of evoforge, which reported it
        # as a clear UserError.
        assert "cannot start or join the Ray cluster" in out.stderr
        pytest.skip("Ray Client's server failed to start on this machine (see the head's ray_client_server.err)")
    assert out.returncode == 0 and line, out.stderr[-3000:]
    assert line[0] == "RESULT ok 1.0 error True {'CPU': 1.0}"
