"""Which runs the dashboard shows: the storages named on the command line, opened read-only.

A reference names either one run (a run folder whose ``storage.url`` pins a run, or
``URL#RUN_NAME``) or a whole storage (a ``run.db`` file, a bare storage URL); a whole storage is
re-listed on every request so that runs started after the dashboard still appear. References are
read by `evoforge.engine.locate`, as the CLI reads them.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ..engine.locate import mask_url, parse_run_ref
from ..errors import UserError
from ..research.store import DB_FILE as RESEARCH_DB
from ..storage import RunInfo, Storage, open_storage


@dataclass
class RunHandle:
    """One run and the (shared, read-only) storage that holds it."""

    key: str
    storage: Storage
    info: RunInfo
    source: str

    @property
    def maximize(self) -> bool:
        return str(self.info.config.get("direction", "maximize")) != "minimize"


@dataclass
class _Source:
    ref: str
    storage: Storage
    pinned: str | None  # a run name or id when the reference names one run


def research_db(ref: str) -> str:
    """An ``evoforge research --out`` folder (it holds ``research.db``, no ``run.db``) -> that
    database, so ``evoforge ui OUT`` shows the research run and every stage run; else `ref`."""
    path = Path(ref)
    if "://" not in ref and path.is_dir() and not (path / "run.db").exists() and not (path / "storage.url").exists() \
            and (path / RESEARCH_DB).is_file():
        return str(path / RESEARCH_DB)
    return ref


def default_refs(root: Path = Path("runs")) -> list[str]:
    """Run folders under ``runs/`` (what ``evoforge run`` creates), newest last."""
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and ((p / "run.db").is_file() or (p / "storage.url").is_file())]
    return [str(p) for p in sorted(found, key=lambda p: p.stat().st_mtime)]


class RunRegistry:
    """The runs behind one dashboard. Thread-safe; storages are opened once and shared."""

    def __init__(self, refs: Iterable[str]) -> None:
        self._lock = threading.Lock()
        self._sources: list[_Source] = []
        self._stores: list[Storage] = []
        by_url: dict[str, Storage] = {}
        refs = list(refs)
        if not refs:
            raise UserError("no run to show: give a run folder, a run.db file or a storage URL (none found under runs/)")
        try:
            for ref in refs:
                parsed = parse_run_ref(research_db(ref))
                url, pinned = parsed.url, parsed.name
                store = by_url.get(url)
                if store is None:
                    store = open_storage(url, read_only=True, create=False)
                    by_url[url] = store
                    self._stores.append(store)
                if pinned is not None and store.get_run(pinned) is None:
                    raise UserError(f"no run named {pinned!r} in {mask_url(url)}")
                self._sources.append(_Source(ref, store, pinned))
        except BaseException:
            self.close()
            raise

    def runs(self) -> list[RunHandle]:
        """Every run, in creation order, each once (two references may name the same run)."""
        out: dict[str, RunHandle] = {}
        with self._lock:
            for src in self._sources:
                infos = [src.storage.get_run(src.pinned)] if src.pinned else src.storage.list_runs()
                for info in infos:
                    if info is not None and info.id not in out:
                        out[info.id] = RunHandle(info.id, src.storage, info, src.ref)
        return sorted(out.values(), key=lambda h: h.info.created_at)

    def get(self, key: str) -> RunHandle | None:
        for handle in self.runs():
            if handle.key == key or handle.info.name == key:
                return handle
        return None

    def close(self) -> None:
        for store in self._stores:
            with contextlib.suppress(Exception):  # closing is best effort
                store.close()
