"""What a run reference names, and opening it: the one reading of ``RUN`` that the CLI
(``resume``, ``best``, ``show``, ``export``, ``audit``, ``report``) and the dashboard share.

A reference is a run folder (its ``storage.url`` names the storage and, on its second line, the
run; else its ``run.db``), a ``run.db`` file, or a storage URL with an optional ``#RUN_NAME``.
Why one module: two copies of this reading had drifted apart (a blank second line of
``storage.url`` was ``""`` for one and ``None`` for the other; one printed a storage password in
its error). It imports only storage, so the dashboard can use it without loading the engine.
"""
from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..storage import RunInfo, Storage, open_storage, sqlite_url_for


def mask_url(url: str) -> str:
    """A storage URL fit to print: any password replaced by ***."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)


@dataclass(frozen=True)
class RunRef:
    """A parsed run reference."""

    url: str                  # the storage URL
    name: str | None          # the run it pins (a name or an id); None: the storage as a whole
    folder: Path | None       # the run folder the reference was, if it was one


def parse_run_ref(ref: str | Path) -> RunRef:
    """Read a reference without opening anything; a user error names what is wrong with it."""
    text = str(ref)
    if not text.strip():
        raise UserError("no run given: give a run folder, a run.db file or a storage URL")
    if "://" in text:
        url, _, name = text.partition("#")
        return RunRef(url, name.strip() or None, None)
    path = Path(text)
    if path.is_dir():
        marker = path / "storage.url"
        if marker.is_file():
            lines = marker.read_text(encoding="utf-8").splitlines()
            url = lines[0].strip() if lines else ""
            if not url:
                raise UserError(f"{marker} is empty: its first line should be the run's storage URL")
            name = lines[1].strip() if len(lines) > 1 else ""
            return RunRef(url, name or None, path)
        if (path / "run.db").is_file():
            return RunRef(sqlite_url_for(path / "run.db"), None, path)
        raise UserError(f"{path} is not a run folder (no run.db or storage.url in it)")
    if path.is_file():
        return RunRef(sqlite_url_for(path), None, None)
    raise UserError(f"no run at {path}: give a run folder, a run.db file or a storage URL")


def locate_run(run: str | Path, *, read_only: bool = False) -> tuple[Storage, RunInfo, Path | None]:
    """Open the run a reference names: its pinned run, else the storage's latest. Returns the open
    storage (the caller closes it), the run, and its run folder when one is known (the reference
    itself, or the ``run_dir`` the run recorded when that folder still exists)."""
    ref = parse_run_ref(run)
    store = open_storage(ref.url, read_only=read_only, create=False)
    info = store.get_run(ref.name) if ref.name else (store.list_runs() or [None])[-1]
    if info is None:
        store.close()
        raise UserError(f"no run {'named ' + repr(ref.name) + ' ' if ref.name else ''}in {mask_url(ref.url)}")
    folder = ref.folder
    if folder is None and info.meta.get("run_dir"):
        candidate = Path(info.meta["run_dir"])
        folder = candidate if candidate.is_dir() else None
    return store, info, folder


@contextmanager
def opened_run(run: str | Path, *, read_only: bool = True) -> Iterator[tuple[Storage, RunInfo]]:
    """`locate_run` for a ``with`` block: the storage is closed however the block ends (the
    read-only commands of the CLI: best, show, export, audit)."""
    store, info, _ = locate_run(run, read_only=read_only)
    try:
        yield store, info
    finally:
        store.close()
