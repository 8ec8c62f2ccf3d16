"""Starting and resuming runs: the Python API that the CLI mirrors.

A run folder holds ``run.db`` (unless another storage URL is given) and ``task/``, a snapshot
of the task folder taken at start, so that a resumed run evaluates with exactly the evaluator it
started with, even if the original folder has changed since.
"""
from __future__ import annotations

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..config import load_config
from ..errors import StorageError, UserError
from ..program import Attempt
from ..storage import RunInfo, Storage, open_storage, sqlite_url_for
from ..task import Task, load_task
from .core import Engine
from .locate import locate_run, mask_url
from .runner import run_workers

__all__ = ["RunResult", "build_providers", "locate_run", "mask_url", "resume", "run"]

SNAPSHOT_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".git", "runs", "*.db", "*.db-wal", "*.db-shm")


@dataclass
class RunResult:
    """What a finished (or stopped) run returns."""

    run_dir: Path | None
    storage_url: str
    run_id: str
    best: Attempt | None
    stop_reason: str
    stats: dict[str, Any] = field(default_factory=dict)


def _say(log: Callable[[str], None] | None, text: str) -> None:
    if log:
        log(text)


def build_providers(models: list[str], llm_cfg: Any, log: Callable[[str], None] | None, *,
                    workers: int = 1) -> tuple[dict[str, Any], Any]:
    """Create one retrying provider per model string, and a bandit over them if several.

    `workers` (evaluator.workers) is what llm.concurrency follows when it is not set."""
    from .pipeline import model_concurrency

    from ..llm.registry import EMBEDDED_NOTICE, create_provider, default_model_spec

    specs = list(models) or [default_model_spec()]
    providers: dict[str, Any] = {}
    for spec in specs:
        if spec == "embedded":
            _say(log, EMBEDDED_NOTICE)
        options: dict[str, Any] = {}
        if llm_cfg.reasoning_effort:
            options["reasoning_effort"] = llm_cfg.reasoning_effort
        if llm_cfg.prices:
            options["price_overrides"] = {m: tuple(p) for m, p in llm_cfg.prices.items()}
        # per-model options; "profile" is the engine's, the rest the provider's (checked there)
        options.update({k: v for k, v in llm_cfg.model_options.get(spec, {}).items() if k != "profile"})
        providers[spec] = create_provider(
            spec,
            retry={"max_attempts": llm_cfg.max_attempts, "call_budget_s": llm_cfg.timeout_s,
                   "max_concurrency": model_concurrency(spec, llm_cfg.concurrency, workers, log)},
            **options,
        )
    for spec in llm_cfg.model_options:
        if spec not in providers:
            _say(log, f"note: llm.model_options.{spec} is for a model this run does not use "
                      f"(models: {', '.join(providers)})")
    chooser = None
    if len(providers) > 1:
        from .ensemble import ModelChooser

        chooser = ModelChooser(list(providers), llm_cfg)
    return providers, chooser


def _new_run_dir(task: Task, base: Path) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    candidate = base / f"{task.name}-{stamp}"
    n = 1
    while candidate.exists():
        n += 1
        candidate = base / f"{task.name}-{stamp}-{n}"
    return candidate


def _overrides(llm: str | list[str] | None, budget: int | None, workers: int | None, seed: int | None,
               extra: dict[str, Any] | None) -> dict[str, Any]:
    out: dict[str, Any] = dict(extra or {})
    if llm:
        out["llm.models"] = [llm] if isinstance(llm, str) else list(llm)
    if budget is not None:
        out["budget.llm_calls"] = budget
    if workers is not None:
        out["evaluator.workers"] = workers
    if seed is not None:
        out["seed"] = seed
    return out


def may_ask_model(cfg: Any) -> bool:
    """Whether a run needs a model at all. A run that names no model (llm.models empty) and whose
    mutation.weights give weight only to zero-cost operators builds no provider, so it needs no
    model installed or reachable (e.g. the inner runs of no-model self-improvement); the engine
    then drops any model kind a strategy adds and makes no auxiliary calls."""
    from ..mutate import kinds as kind_registry

    weights = cfg.mutation.weights
    return bool(cfg.llm.models) or not weights or any(
        w > 0 and kind_registry.is_model_kind(k) for k, w in weights.items())


def _execute(task: Task, storage: Storage, info: RunInfo, *, executor: str | None, progress: bool,
             log: Callable[[str], None] | None, run_dir: Path | None) -> RunResult:
    from ..executors.base import create_executor
    from ..sandbox import detect_isolation, warm

    providers, chooser = (build_providers(task.config.llm.models, task.config.llm, log,
                                          workers=task.config.evaluator.workers)
                          if may_ask_model(task.config) else ({}, None))
    # said once per process: on the run's console when it has one, else by the evoforge.sandbox logger
    detect_isolation(task.config.evaluator.isolation, require=task.config.evaluator.require_isolation, say=log)
    warm.apply_config(task.config.evaluator.warm)
    engine = Engine(task, storage, info, providers, model_chooser=chooser)
    runner_executor = create_executor(executor)
    display = None
    if progress:
        from .progress import ProgressDisplay

        display = ProgressDisplay(engine)
    try:
        reason = run_workers(engine, runner_executor, task.config.evaluator.workers)
        if task.config.evaluator.reevaluate_top > 0 and reason != "interrupted":
            from .reevaluate import reevaluate_elites

            reevaluate_elites(engine, runner_executor, task.config.evaluator.reevaluate_top, log=log)
    finally:
        if display:
            display.close()
        runner_executor.close()
        for p in providers.values():
            p.close()
    best = engine.best
    if run_dir is not None and best is not None and best.code is not None:
        full = storage.get_attempt(best.id)
        if full and full.code:
            _write_best(run_dir, full.code, task.config.program)
            best = full
    storage.update_run_meta(info.id, {**info.meta, "last_stop_reason": reason, "finished_at": time.time()})
    from .efficiency import best_after

    stats = {**engine.stats(), "best_after": best_after(storage, info.id, task.maximize)}
    return RunResult(run_dir, storage.url, info.id, best, reason, stats)


def _write_best(run_dir: Path, code: str, program: str) -> None:
    """The best program beside the run's database: ``best.py`` (the program's suffix) for one
    file, the folder ``best/`` laid out as the program's folder for a folder program (replaced
    whole: it is this run's own output, rewritten at the end of every session)."""
    from ..bundle import is_bundle, write_folder

    if not is_bundle(code):
        (run_dir / f"best{Path(program).suffix or '.txt'}").write_text(code, encoding="utf-8")
        return
    import shutil

    folder = run_dir / "best"
    if folder.is_dir() and not folder.is_symlink():
        shutil.rmtree(folder)
    folder.mkdir()
    write_folder(code, folder)


def run(
    task: str | Path | Task,
    *,
    llm: str | list[str] | None = None,
    budget: int | None = None,
    workers: int | None = None,
    storage: str | None = None,
    seed: int | None = None,
    run_dir: str | Path | None = None,
    runs_root: str | Path = "runs",
    executor: str | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
) -> RunResult:
    """Evolve the program of `task`. Mirrors ``evoforge run``; returns the best program found."""
    ov = _overrides(llm, budget, workers, seed, overrides)
    if isinstance(task, Task):
        task = load_task(task.path, ov)
    else:
        task = load_task(task, ov)
    folder = Path(run_dir) if run_dir else _new_run_dir(task, Path(runs_root))
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if (folder / "task").exists():
            raise StorageError(f"{folder} already holds a run; resume it with: evoforge resume {folder}")
        shutil.copytree(task.path, folder / "task", ignore=SNAPSHOT_IGNORE)
    except OSError as exc:
        raise StorageError(f"cannot write the run folder {folder}: {exc.strerror or exc}") from None
    snapshot = load_task(folder / "task", ov)
    url = storage or sqlite_url_for(folder / "run.db")
    store = open_storage(url)
    try:
        name = folder.name
        info = store.create_run(name, snapshot.config.to_dict(), str((folder / "task").resolve()),
                                meta={"run_dir": str(folder.resolve()), "source_task": str(task.path)})
        (folder / "storage.url").write_text(url + "\n" + name + "\n", encoding="utf-8")
        _say(log, f"run folder: {folder}  (storage {mask_url(url)})")
        return _execute(snapshot, store, info, executor=executor, progress=progress, log=log, run_dir=folder)
    finally:
        store.close()


def resume(
    run_ref: str | Path,
    *,
    budget: int | None = None,
    workers: int | None = None,
    llm: str | list[str] | None = None,
    executor: str | None = None,
    overrides: dict[str, Any] | None = None,
    progress: bool = False,
    log: Callable[[str], None] | None = None,
    islands: list[int] | None = None,
) -> RunResult:
    """Continue a run to its budget (or to a larger one given here). Mirrors ``evoforge resume``.

    With `islands`, this process joins a shared run as one more controller working on those
    islands (``evoforge join``); the run's other controllers keep the rest."""
    store, info, folder = locate_run(run_ref)
    try:
        task_path = Path(info.task_path)
        if not task_path.is_dir():
            raise UserError(f"the run's task snapshot {task_path} is missing; cannot resume")
        config = dict(info.config)
        ov = {**info.meta.get("overrides", {}), **_overrides(llm, budget, workers, None, overrides)}
        ov.pop("search.own_islands", None)  # which islands a controller owns is never the run's setting
        task = load_task(task_path)
        session_ov = {**ov, "search.own_islands": list(islands)} if islands else ov
        task.config = load_config(config, session_ov)
        if ov:  # a larger budget given once stays in force for later resumes
            info.meta = {**info.meta, "overrides": ov}
            store.update_run_meta(info.id, info.meta)
        _say(log, f"resuming {info.name} ({store.count_attempts(info.id)} attempts stored)")
        return _execute(task, store, info, executor=executor, progress=progress, log=log, run_dir=folder)
    finally:
        store.close()
