"""The Ray executor against a real local Ray cluster: evaluation, timeouts that kill, workers
that die and are retried, resources honoured, the task folder shipped to workers."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from executor_helpers import CANDIDATE, make_task
from evoforge.errors import MissingExtraError, UserError
from evoforge.executors.base import EvaluationRequest, create_executor
from evoforge.executors.local import run_request

pytestmark = pytest.mark.slow

SCORE_VALUE = """
v = candidate.call("value", timeout=10)
return Result(score=float(v), feedback=f"cwd={os.getcwd()}")
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_dead(pid: int, within: float = 10.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def _request(task: Path, code: str = CANDIDATE, timeout: float = 20.0) -> EvaluationRequest:
    return EvaluationRequest(task_path=str(task), code=code, timeout=timeout)


@pytest.fixture
def executor(ray_cluster):
    from evoforge.executors.ray_executor import RayExecutor

    ex = RayExecutor(grace_s=10.0)
    yield ex
    ex.close()


def test_create_executor_and_results_match_local(ray_cluster, executor, tmp_path):
    task = make_task(tmp_path / "t", SCORE_VALUE)
    assert create_executor("ray").name == "ray"
    for code, status in [(CANDIDATE, "ok"), (CANDIDATE.replace("1.0", "float('nan')"), "invalid"),
                         (CANDIDATE.replace("return VALUE", "return 1 / 0"), "error")]:
        remote, local = executor.evaluate(_request(task, code)), run_request(_request(task, code))
        assert (remote.status, remote.score) == (local.status, local.score) == (status, remote.score)
        if status == "error":
            assert "ZeroDivisionError" in remote.reason
    assert executor.history[-1]["resources"] == {"CPU": 1.0}


def test_evaluate_is_thread_safe(executor, tmp_path):
    task = make_task(tmp_path / "t", SCORE_VALUE)
    results: dict[int, float | None] = {}

    def one(i: int) -> None:
        results[i] = executor.evaluate(_request(task, CANDIDATE.replace("1.0", f"{i}.0"))).score

    threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: float(i) for i in range(6)}


def test_sandbox_timeout_still_kills_the_candidate(executor, tmp_path):
    task = make_task(tmp_path / "t", 'return Result(score=float(candidate.call("value", timeout=2)))')
    hang = CANDIDATE.replace("return VALUE", "while True:\n        pass")
    ev = executor.evaluate(_request(task, hang, timeout=30))
    assert ev.status == "timeout" and "timed out after 2.0s" in ev.reason, ev.reason  # candidate.call timeout


def test_executor_timeout_cancels_the_task_and_kills_the_evaluation(ray_cluster, tmp_path):
    """The backstop: when no answer comes within timeout + grace, the Ray task is cancelled with
    force=True and nothing of the evaluation survives. A negative grace makes the backstop fire
    before the sandbox's own timeout would, as it must when a worker hangs outside the sandbox."""
    from evoforge.executors.ray_executor import RayExecutor

    pidfile = tmp_path / "evaluator.pid"
    task = make_task(tmp_path / "t", f"""
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        time.sleep(1000)
    """)
    ex = RayExecutor(grace_s=-57.0)
    try:
        started = time.monotonic()
        ev = ex.evaluate(_request(task, timeout=60))
        took = time.monotonic() - started
        assert ev.status == "timeout" and "cancelled" in ev.reason, ev.reason
        assert took < 15, took
        worker = ex.history[-1]["pid"]
        assert _wait_dead(worker), "the Ray worker was not killed"
        assert _wait_dead(int(pidfile.read_text())), "the evaluator outlived its cancelled worker"
        assert ex.evaluate(_request(make_task(tmp_path / "ok", SCORE_VALUE), timeout=60)).status == "ok"  # goes on
    finally:
        ex.close()


def _worker_killer(marker: Path, always: bool = False) -> str:
    """evaluate.py that kills its Ray worker, the first time or always: its parent process, or
    its grandparent when it is a fork of a warm evaluator host (sandbox/host_pool.py)."""
    return f"""
        marker = {str(marker)!r}
        if {always!r} or not os.path.exists(marker):
            open(marker, "a").write("killed\\n")
            worker = os.getppid()
            if b"_host_server" in open(f"/proc/{{worker}}/cmdline", "rb").read():
                worker = int(open(f"/proc/{{worker}}/stat").read().rsplit(")", 1)[1].split()[1])
            os.kill(worker, signal.SIGKILL)
            time.sleep(30)
        return Result(score=float(candidate.call("value", timeout=10)))
    """


def test_a_worker_that_dies_is_retried(ray_cluster, tmp_path):
    from evoforge.executors.ray_executor import RayExecutor

    marker = tmp_path / "killed"
    task = make_task(tmp_path / "t", _worker_killer(marker))
    ex = RayExecutor(max_retries=2)
    try:
        ev = ex.evaluate(_request(task))
        assert ev.status == "ok" and ev.score == 1.0, ev.reason
        first, second = list(ex.history)[-2:]
        assert first["outcome"] == "WorkerCrashedError" and second["attempt"] == 1 and second["outcome"] == "ok"
        assert first["pid"] != second["pid"] and not _alive(first["pid"])
    finally:
        ex.close()


def test_a_worker_that_always_dies_gives_an_error_after_the_retries(ray_cluster, tmp_path):
    from evoforge.executors.ray_executor import RayExecutor

    marker = tmp_path / "killed"
    ex = RayExecutor(max_retries=1)
    try:
        ev = ex.evaluate(_request(make_task(tmp_path / "t", _worker_killer(marker, always=True))))
        assert ev.status == "error" and "failed 2 times" in ev.reason and "WorkerCrashedError" in ev.reason, ev.reason
        assert marker.read_text().count("killed") == 2
    finally:
        ex.close()


def _side_by_side(ex, task: Path, n: int = 2) -> list:
    results: list = [None] * n

    def one(i: int) -> None:
        results[i] = ex.evaluate(_request(task, timeout=600))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


# Serial: each evaluation records when it ran; the intervals must not overlap.
_RECORD_INTERVAL = """
start = time.monotonic()
time.sleep(1.0)
open(os.path.join({d!r}, f"{{os.getpid()}}-{{time.monotonic_ns()}}"), "w").write(f"{{start}} {{time.monotonic()}}")
return Result(score=1.0)
"""
# Side by side: each waits until the other has started, so it scores 1 only if both overlapped.
_RENDEZVOUS = """
open(os.path.join({d!r}, f"{{os.getpid()}}-{{time.monotonic_ns()}}"), "w").close()
deadline = time.monotonic() + 300
while len(os.listdir({d!r})) < 2 and time.monotonic() < deadline:
    time.sleep(0.05)
return Result(score=float(len(os.listdir({d!r})) >= 2))
"""


@pytest.mark.parametrize("options, serial", [({"cpus": 2.0}, True), ({"cpus": 1.0}, False),
                                              ({"cpus": 0.5, "resources": {"evoforge_slot": 1}}, True)])
def test_resources_are_honoured(ray_cluster, tmp_path, options, serial):
    """On a 2-CPU cluster with one custom slot: two evaluations asking 2 CPUs (or the slot) run
    one after the other; asking 1 CPU each, they run side by side. Decided by what the
    evaluations saw of each other (intervals, a rendezvous), never by how long anything took."""
    from evoforge.executors.ray_executor import RayExecutor

    marks = tmp_path / "marks"
    marks.mkdir()
    task = make_task(tmp_path / "t", (_RECORD_INTERVAL if serial else _RENDEZVOUS).format(d=str(marks)))
    ex = RayExecutor(**options)
    try:
        results = _side_by_side(ex, task)
        assert [r.status for r in results] == ["ok", "ok"], [r.reason for r in results]
        runs = list(ex.history)[-2:]
        assert runs[0]["resources"]["CPU"] == options["cpus"]
        if "resources" in options:
            assert runs[0]["resources"]["evoforge_slot"] == 1.0
        if serial:
            (a0, a1), (b0, b1) = sorted(tuple(map(float, f.read_text().split())) for f in marks.iterdir())
            assert b0 >= a1, f"ran side by side: {a0:.2f}-{a1:.2f} and {b0:.2f}-{b1:.2f}"
        else:
            assert [r.score for r in results] == [1.0, 1.0], "the two evaluations never ran at the same time"
    finally:
        ex.close()


def test_per_request_resources_and_infeasible_requests(executor, tmp_path):
    task = make_task(tmp_path / "t", SCORE_VALUE)
    req = _request(task)
    req.resources = {"cpus": 0.25}  # type: ignore[attr-defined]  # what a task's config may ask for
    assert executor.evaluate(req).status == "ok" and executor.history[-1]["resources"] == {"CPU": 0.25}
    req.resources = {"gpus": 1}  # type: ignore[attr-defined]
    ev = executor.evaluate(req)  # refused with the reason, not queued forever
    assert ev.status == "error" and "no node of the Ray cluster" in ev.reason and "GPU" in ev.reason


def test_task_folder_is_shipped_to_workers(ray_cluster, tmp_path):
    from evoforge.executors.ray_executor import RayExecutor

    task = make_task(tmp_path / "t", SCORE_VALUE)
    (task / "data.txt").write_text("hidden data")
    ex = RayExecutor(ship_task="always")
    try:
        ev = ex.evaluate(_request(task))
        assert ev.status == "ok" and "evoforge-ray-tasks" in ev.result.feedback, ev.reason
        shipped = Path(ev.result.feedback.split("cwd=", 1)[1])
        assert (shipped / "data.txt").read_text() == "hidden data" and shipped != task
    finally:
        ex.close()


def test_address_options():
    from evoforge.executors.ray_executor import parse_address

    assert parse_address("ray://h:1?cpus=2&gpus=0.5&retries=3") == ("ray://h:1", {"cpus": 2.0, "gpus": 0.5, "max_retries": 3})
    assert parse_address(None) == (None, {}) and parse_address("ray") == (None, {})
    assert parse_address("ray?num_cpus=2&ship_task=always") == (None, {"num_cpus": 2, "ship_task": "always"})
    assert parse_address("auto") == ("auto", {})
    with pytest.raises(UserError, match="unknown Ray executor option 'cpu'"):
        parse_address("ray://h:1?cpu=2")
    with pytest.raises(UserError, match="not a float"):
        parse_address("ray://h:1?gpus=many")


def test_close_leaves_a_cluster_it_did_not_start(ray_cluster):
    from evoforge.executors.ray_executor import RayExecutor

    ex = RayExecutor()
    assert not ex.started_cluster
    ex.close()
    assert ray_cluster.is_initialized()


def test_close_shuts_down_the_cluster_it_started(tmp_path):
    script = (
        "import ray\nfrom evoforge.executors.ray_executor import RayExecutor\n"
        "ex = RayExecutor(num_cpus=1)\nassert ex.started_cluster and ray.is_initialized()\n"
        "ex.close()\nassert not ray.is_initialized()\nprint('closed')\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "RAY_ADDRESS": ""})
    assert out.returncode == 0 and "closed" in out.stdout, out.stderr[-2000:]


def test_missing_ray_names_the_extra(monkeypatch):
    from evoforge.executors.ray_executor import RayExecutor

    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(MissingExtraError, match=r"evoforge\[ray\]"):
        RayExecutor()
