"""Evaluations as Ray tasks: a controller here, evaluation workers anywhere on a Ray cluster.

Why Ray tasks, and why this shape:
- Each evaluation is one Ray task that calls `run_request` on the worker, so the candidate is
  still isolated in its own sandboxed process there and the trusted evaluator in another; only
  plain data travels (the request as a dict, the `Evaluation` as JSON). The database and the
  population never leave the controller.
- The task is a generator that first yields "started": the timeout clock starts when the
  evaluation starts, not when it is queued, so a busy cluster does not turn waiting into
  timeouts. After ``timeout + grace`` the task is cancelled with ``force=True`` (its worker
  process is killed) and a "timeout" Evaluation is returned. The evaluation host asked the kernel
  to kill it when its parent dies (``PR_SET_PDEATHSIG`` in `evoforge.sandbox.limits`), and
  candidates die with their host, so nothing of a cancelled evaluation survives its worker.
- A worker or node that dies (`WorkerCrashedError`, `NodeDiedError`, lost objects, Ray's OOM
  killer, any other Ray system error) loses only its in-flight evaluations; each is resubmitted
  up to ``max_retries`` times, then becomes an "error" Evaluation that says what happened.
- Remote nodes may not have the task folder: it is packed once per executor (a tar.gz in Ray's
  object store) and unpacked into a per-node cache only where the path is missing.

Options (constructor keywords, or query parameters of the address, e.g.
``ray://head:10001?cpus=2&gpus=0.5&memory_mb=4096&retries=3``): ``cpus``, ``gpus``,
``memory_mb`` (a Ray scheduling reservation), ``resources`` (custom), ``max_retries``,
``grace_s``, ``queue_timeout_s``, ``ship_task`` (auto | always | never), ``num_cpus`` (size of a
local cluster started here). A request may carry ``resources`` (a dict with cpus, gpus,
memory_mb, custom) that overrides the executor's defaults for that evaluation.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import io
import logging
import os
import shutil
import tarfile
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from ..errors import UserError, require
from ..sandbox import Evaluation
from .base import EvaluationRequest

_SHIP_IGNORE = {"__pycache__", ".git", "runs"}
_MAX_SHIP_BYTES = 512 * 1024 * 1024
_CACHE_ROOT = Path(tempfile.gettempdir()) / "evoforge-ray-tasks"
_OPTION_TYPES = {"cpus": float, "gpus": float, "memory_mb": int, "max_retries": int, "retries": int,
                 "grace_s": float, "queue_timeout_s": float, "ship_task": str, "num_cpus": int}


# -- what runs on the worker -----------------------------------------------------------------
def _materialize(task_path: str, digest: str, blob: list[Any]) -> str:
    """Unpack the shipped task folder into this node's cache (once per digest) and return it."""
    import ray

    target = _CACHE_ROOT / digest
    if (target / ".complete").is_file():
        return str(target)
    _CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{digest}-", dir=_CACHE_ROOT))
    with tarfile.open(fileobj=io.BytesIO(ray.get(blob[0])), mode="r:gz") as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(staging, filter="data")
        else:  # pragma: no cover - Python without PEP 706: the archive is ours, still refuse escapes
            for m in tar.getmembers():
                if m.name.startswith(("/", "..")) or ".." in Path(m.name).parts or m.issym() or m.islnk():
                    raise ValueError(f"unsafe path in the shipped task: {m.name}")
            tar.extractall(staging)
    os.chmod(staging, 0o755)
    (staging / ".complete").write_text(task_path)
    try:
        os.rename(staging, target)
    except OSError:  # another worker on this node won the race: use its copy
        shutil.rmtree(staging, ignore_errors=True)
    return str(target)


def _evaluate_on_worker(request: dict[str, Any], ship: str, digest: str | None, blob: list[Any] | None):
    """The Ray task: say where it started, then evaluate with `run_request` (a sandboxed process)."""
    import ray

    from .local import run_request

    ctx = ray.get_runtime_context()
    yield {"event": "started", "pid": os.getpid(), "node_id": ctx.get_node_id(),
           "resources": ctx.get_assigned_resources(), "t": time.time()}
    req = EvaluationRequest(**request)
    if digest and blob and (ship == "always" or not Path(req.task_path).is_dir()):
        req.task_path = _materialize(req.task_path, digest, blob)
    yield {"event": "done", "evaluation": run_request(req).to_json()}


# -- the controller side ---------------------------------------------------------------------
def parse_address(address: str | None) -> tuple[str | None, dict[str, Any]]:
    """``ray://h:p?cpus=2`` -> (``ray://h:p``, {"cpus": 2.0}); ``ray`` or ``ray?cpus=2`` (a local
    cluster) -> (None, …), so an executor spec can be passed as is; unknown options are errors."""
    if not address:
        return None, {}
    base, _, query = address.partition("?")
    base = "" if base == "ray" else base
    options: dict[str, Any] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in _OPTION_TYPES:
            raise UserError(f"unknown Ray executor option {key!r} in {address!r}: use {', '.join(sorted(_OPTION_TYPES))}")
        try:
            options["max_retries" if key == "retries" else key] = _OPTION_TYPES[key](value)
        except ValueError:
            raise UserError(f"Ray executor option {key}={value!r} is not a {_OPTION_TYPES[key].__name__}") from None
    return base or None, options


def pack_task(task_path: str) -> tuple[str, bytes]:
    """(sha256 digest, tar.gz bytes) of a task folder, without caches and run folders."""
    root = Path(task_path)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=6) as tar:
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part in _SHIP_IGNORE for part in rel.parts) or path.suffix == ".pyc" or path.is_symlink():
                continue
            info = tar.gettarinfo(str(path), arcname=str(rel))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            if path.is_file():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            elif path.is_dir():
                tar.addfile(info)
            if buf.tell() > _MAX_SHIP_BYTES:
                raise UserError(f"the task folder {task_path} is over {_MAX_SHIP_BYTES >> 20} MB packed: too big "
                                "to ship to Ray workers; put large data on shared storage and use ship_task=never")
    data = buf.getvalue()
    return hashlib.sha256(data).hexdigest()[:24], data


class _Retry(Exception):
    """A system failure of the worker (not of the candidate): the evaluation may be resubmitted."""


class _Dispatcher:
    """Submit one evaluation as a streaming task, time it from its start, retry system failures.
    Runs in the controller, or inside a supervisor task in the cluster when the controller is a
    Ray Client (which cannot stream). Returns the `Evaluation` as JSON and appends what happened
    to each attempt (pid, node, resources, queue time, outcome) to `records`."""

    def __init__(self, ray: Any, *, max_retries: int, grace_s: float, queue_timeout_s: float | None, ship: str,
                 closed: threading.Event | None = None) -> None:
        self.ray, self.max_retries, self.grace_s = ray, max_retries, grace_s
        self.queue_timeout_s, self.ship = queue_timeout_s, ship
        self.closed = closed or threading.Event()
        self.remote = ray.remote(_evaluate_on_worker)

    def run(self, payload: dict[str, Any], options: dict[str, Any], digest: str | None, blob: list[Any] | None,
            records: list[dict[str, Any]]) -> dict[str, Any]:
        failures: list[str] = []
        for attempt in range(self.max_retries + 1):
            try:
                return self._attempt(payload, options, digest, blob, attempt, records)
            except _Retry as exc:
                failures.append(str(exc))
        return Evaluation("error", reason=f"the Ray worker failed {len(failures)} times (max_retries="
                                         f"{self.max_retries}); last: {failures[-1]}").to_json()

    def _wait(self, ref: Any, timeout: float | None) -> bool:
        """Wait for `ref` (or a generator's next item), waking up to notice `close()`."""
        end = None if timeout is None else time.monotonic() + timeout
        while not self.closed.is_set():
            step = 1.0 if end is None else max(0.0, min(1.0, end - time.monotonic()))
            if self.ray.wait([ref], timeout=step)[0]:
                return True
            if end is not None and time.monotonic() >= end:
                return False
        return False

    def _attempt(self, payload: dict[str, Any], options: dict[str, Any], digest: str | None, blob: list[Any] | None,
                 attempt: int, records: list[dict[str, Any]]) -> dict[str, Any]:
        ray, errors = self.ray, self.ray.exceptions
        submitted = time.monotonic()
        gen = self.remote.options(**options).remote(payload, self.ship, digest, blob)
        record: dict[str, Any] = {"attempt": attempt, "submitted": time.time()}
        closed = Evaluation("error", reason="the Ray executor is closed").to_json()
        try:
            if not self._wait(gen, self.queue_timeout_s):
                ray.cancel(gen, force=True)
                return closed if self.closed.is_set() else Evaluation("error", reason=(
                    f"no Ray worker started the evaluation within {self.queue_timeout_s}s")).to_json()
            started = ray.get(next(gen))
            record.update(pid=started["pid"], node_id=started["node_id"], resources=started["resources"],
                          queued_s=time.monotonic() - submitted)
            records.append(record)
            limit = float(payload["timeout"]) + self.grace_s
            if not self._wait(gen, limit):
                ray.cancel(gen, force=True)
                if self.closed.is_set():
                    return closed
                record["outcome"] = "timeout"
                return Evaluation("timeout", seconds=limit, reason=(
                    f"evaluation timed out after {payload['timeout']:.1f}s: no answer from the Ray worker within "
                    f"the timeout plus {self.grace_s:.0f}s grace; the task was cancelled and its worker killed")).to_json()
            done = ray.get(next(gen))
            record["outcome"] = done["evaluation"]["status"]
            return done["evaluation"]
        except errors.TaskCancelledError:
            return Evaluation("error", reason="the Ray task was cancelled").to_json()
        except errors.RayTaskError as exc:  # our task body raised: a bug or a broken worker environment
            record["outcome"] = "RayTaskError"
            raise _Retry(f"the Ray task raised on the worker: {_last_line(exc)}") from None
        except errors.RayError as exc:  # worker crashed, node died, object lost, OOM-killed...
            record["outcome"] = type(exc).__name__
            raise _Retry(f"{type(exc).__name__}: {_last_line(exc)}") from None
        except StopIteration:
            raise _Retry("the Ray task ended without an answer") from None


def _supervise(payload: dict[str, Any], options: dict[str, Any], settings: dict[str, Any], digest: str | None,
               blob: list[Any] | None) -> dict[str, Any]:
    """A Ray task (0 CPUs) that runs `_Dispatcher` inside the cluster for a Ray Client controller."""
    import ray

    records: list[dict[str, Any]] = []
    evaluation = _Dispatcher(ray, **settings).run(payload, options, digest, blob, records)
    return {"evaluation": evaluation, "history": records}


class RayExecutor:
    """`Executor` on a Ray cluster: started here (``address=None``) or joined (``ray://HOST:PORT``,
    ``auto``, ``HOST:PORT``). Thread-safe: the engine's worker threads call `evaluate` at once."""

    name = "ray"

    def __init__(self, address: str | None = None, *, cpus: float = 1.0, gpus: float = 0.0,
                 memory_mb: int | None = None, resources: dict[str, float] | None = None, max_retries: int = 2,
                 grace_s: float = 15.0, queue_timeout_s: float | None = None, ship_task: str = "auto",
                 num_cpus: int | None = None, runtime_env: dict[str, Any] | None = None,
                 object_store_mb: int = 256, check_feasible: bool = True) -> None:
        address, extra = parse_address(address)
        opts = {"cpus": cpus, "gpus": gpus, "memory_mb": memory_mb, "max_retries": max_retries, "grace_s": grace_s,
                "queue_timeout_s": queue_timeout_s, "ship_task": ship_task, "num_cpus": num_cpus, **extra}
        if opts["ship_task"] not in ("auto", "always", "never"):
            raise UserError(f"ship_task must be auto, always or never, not {opts['ship_task']!r}")
        self.cpus, self.gpus, self.memory_mb = float(opts["cpus"]), float(opts["gpus"]), opts["memory_mb"]
        self.resources = dict(resources or {})
        self.max_retries, self.grace_s = max(0, int(opts["max_retries"])), float(opts["grace_s"])
        self.queue_timeout_s, self.ship_task = opts["queue_timeout_s"], opts["ship_task"]
        self.check_feasible = check_feasible
        self.history: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._lock = threading.Lock()
        self._shipped: dict[str, tuple[str, list[Any]]] = {}
        self._nodes: tuple[float, list[dict[str, float]]] = (0.0, [])
        self._closed = threading.Event()
        if address and address.startswith("ray://"):
            require("grpc", "ray", "connecting to a Ray cluster with a ray:// address (pip install 'ray[client]')")
            token = os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or \
                (Path.home() / ".ray" / "auth_token").is_file()
            if token and "RAY_AUTH_MODE" not in os.environ:  # Ray Client sends the token only when told to
                os.environ["RAY_AUTH_MODE"] = "token"
        ray = self._ray = require("ray", "ray", "the Ray executor")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a controller should not phone home
        self._owns_connection = not ray.is_initialized()
        if self._owns_connection:
            address = address or os.environ.get("RAY_ADDRESS") or "local"
            kwargs: dict[str, Any] = {"address": address, "include_dashboard": False, "log_to_driver": False,
                                      "logging_level": logging.WARNING, "runtime_env": runtime_env}
            if address == "local":  # cluster-shape options only apply to a cluster started here
                # Ray announces the token it generated for a private cluster: nothing to act on
                logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
                kwargs.update(num_cpus=opts["num_cpus"] or os.cpu_count() or 1,
                              object_store_memory=object_store_mb * 1024 * 1024)
            try:
                ray.init(**kwargs)
            except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ValueError...
                raise UserError(f"cannot start or join the Ray cluster at {address!r}: {exc}") from None
        self.started_cluster = self._owns_connection and (address == "local")
        self.client_mode = bool(ray.util.client.ray.is_connected())
        self._dispatcher = _Dispatcher(ray, max_retries=self.max_retries, grace_s=self.grace_s,
                                       queue_timeout_s=self.queue_timeout_s, ship=self.ship_task, closed=self._closed)
        self._supervisor = ray.remote(num_cpus=0, max_retries=0)(_supervise)

    # -- resources ---------------------------------------------------------------------
    def task_options(self, request: EvaluationRequest) -> dict[str, Any]:
        """Ray options for one evaluation: executor defaults, overridden by ``request.resources``."""
        per = dict(getattr(request, "resources", None) or {})
        memory_mb = per.get("memory_mb", self.memory_mb)
        options: dict[str, Any] = {"num_cpus": float(per.get("cpus", self.cpus)),
                                   "num_gpus": float(per.get("gpus", self.gpus)),
                                   "max_retries": 0, "retry_exceptions": False, "num_returns": "streaming"}
        if memory_mb:
            options["memory"] = int(memory_mb) * 1024 * 1024
        custom = {**self.resources, **dict(per.get("custom") or {})}
        if custom:
            options["resources"] = custom
        return options

    def _demand(self, options: dict[str, Any]) -> dict[str, float]:
        demand = {"CPU": options["num_cpus"], "GPU": options["num_gpus"], "memory": float(options.get("memory", 0))}
        demand.update(options.get("resources", {}))
        return {k: v for k, v in demand.items() if v}

    def _infeasible(self, options: dict[str, Any]) -> str | None:
        """Why no node of the cluster could ever run this task (Ray would queue it forever)."""
        if not self.check_feasible:
            return None
        now = time.monotonic()
        stamp, nodes = self._nodes
        if now - stamp > 10.0 or not nodes:
            nodes = [dict(n.get("Resources", {})) for n in self._ray.nodes() if n.get("Alive")]
            self._nodes = (now, nodes)
        demand = self._demand(options)
        if any(all(node.get(k, 0.0) >= v for k, v in demand.items()) for node in nodes):
            return None
        offer = max(nodes, key=lambda n: n.get("CPU", 0.0), default={})
        shown = {k: offer.get(k, 0.0) for k in demand}
        return (f"no node of the Ray cluster can run this evaluation: it asks for {demand}, the largest node "
                f"offers {shown}; lower the executor's cpus/gpus/memory_mb or add nodes")

    # -- shipping ----------------------------------------------------------------------
    def _ship(self, task_path: str) -> tuple[str | None, list[Any] | None]:
        if self.ship_task == "never":
            return None, None
        with self._lock:
            if task_path not in self._shipped:
                digest, data = pack_task(task_path)
                self._shipped[task_path] = (digest, [self._ray.put(data)])  # in a list: fetched only if needed
            digest, ref = self._shipped[task_path]
        return digest, ref

    # -- evaluate ----------------------------------------------------------------------
    def evaluate(self, request: EvaluationRequest) -> Evaluation:
        if self._closed.is_set():
            return Evaluation("error", reason="the Ray executor is closed")
        options = self.task_options(request)
        why = self._infeasible(options)
        if why:
            return Evaluation("error", reason=why)
        digest, blob = self._ship(request.task_path)
        payload = {f.name: getattr(request, f.name) for f in dataclasses.fields(EvaluationRequest)}
        records: list[dict[str, Any]] = []
        if not self.client_mode:
            result = self._dispatcher.run(payload, options, digest, blob, records)
        else:
            result = self._supervised(payload, options, digest, blob, records)
        self.history.extend(records)
        return Evaluation.from_json(result)

    def _supervised(self, payload: dict[str, Any], options: dict[str, Any], digest: str | None,
                    blob: list[Any] | None, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Ray Client mode: a supervisor task in the cluster streams and times the evaluation."""
        settings = {"max_retries": self.max_retries, "grace_s": self.grace_s,
                    "queue_timeout_s": self.queue_timeout_s, "ship": self.ship_task}
        failures: list[str] = []
        for _ in range(self.max_retries + 1):
            ref = self._supervisor.remote(payload, options, settings, digest, blob)
            try:
                if not self._dispatcher._wait(ref, None):
                    self._ray.cancel(ref, force=True)
                    return Evaluation("error", reason="the Ray executor is closed").to_json()
                answer = self._ray.get(ref)
                records.extend(answer["history"])
                return answer["evaluation"]
            except self._ray.exceptions.RayError as exc:  # the supervisor's node died: submit again
                failures.append(f"{type(exc).__name__}: {_last_line(exc)}")
        return Evaluation("error", reason=f"the Ray supervisor task failed {len(failures)} times; "
                                         f"last: {failures[-1]}").to_json()

    def close(self) -> None:
        """Stop waiting, and shut Ray down only if this executor connected it (a cluster started
        here stops; a joined cluster is only disconnected; someone else's `ray.init` is left alone)."""
        if self._closed.is_set():
            return
        self._closed.set()
        with self._lock:
            self._shipped.clear()
        if self._owns_connection and self._ray.is_initialized():
            self._ray.shutdown()


def _last_line(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:400]
