"""The storage protocol: one interface, several backends (SQLite default, PostgreSQL for many
machines). Both share one schema declaration (`schema`) and one row codec (`rows`), and every
backend passes the same conformance suite (`evoforge.testing.storage_suite`).

A storage URL names a backend for the library, the CLI and the dashboard alike
(``sqlite:///runs/x/run.db``, ``postgresql://user@host/db``), as in Optuna.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from ..errors import StorageError
from ..program import Attempt, AttemptStatus, LLMCallRecord
from .fingerprints import FingerprintRow, RestoreRow


@dataclass
class RunInfo:
    """A run as the storage knows it."""

    id: str
    name: str
    created_at: float
    config: dict[str, Any]
    task_path: str
    meta: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Storage(Protocol):
    """What the engine, CLI and dashboard need from a database. Each write is one transaction."""

    url: str

    def create_run(self, name: str, config: dict[str, Any], task_path: str, meta: dict[str, Any] | None = None) -> RunInfo: ...
    def get_run(self, name_or_id: str) -> RunInfo | None: ...
    def list_runs(self) -> list[RunInfo]: ...
    def update_run_meta(self, run_id: str, meta: dict[str, Any]) -> None: ...

    def save_attempt(self, attempt: Attempt, fingerprint: tuple[str, bytes | None] | None = None) -> None:
        """Insert or update. `fingerprint` (normalized-AST hash, MinHash signature bytes) is stored
        with it; saved again without one, the stored fingerprint is kept unless the code changed."""
        ...
    def get_attempt(self, attempt_id: str) -> Attempt | None: ...
    def attempts(
        self, run_id: str, *, status: AttemptStatus | None = None, island: int | None = None,
        since_index: int | None = None, limit: int | None = None, with_code: bool = True,
    ) -> list[Attempt]: ...
    def count_attempts(self, run_id: str, status: AttemptStatus | None = None) -> int: ...
    def best_attempts(self, run_id: str, n: int = 1, *, maximize: bool = True, island: int | None = None) -> list[Attempt]: ...
    def find_by_hash(self, run_id: str, code_hash: str) -> Attempt | None: ...

    # fingerprints (schema version 2): what a resumed run reads instead of re-hashing every program
    def find_by_ast_hash(self, run_id: str, ast_hash: str, statuses: tuple[str, ...]) -> str | None:
        """The id of the earliest attempt with this normalized-AST hash and one of `statuses` (indexed)."""
        ...
    def fingerprints(self, run_id: str, statuses: tuple[str, ...], *, programs_only: bool = False) -> list[FingerprintRow]:
        """(id, ast_hash, minhash, has_code) of the run's attempts with these statuses, in proposal
        order; `programs_only`: only those with a score. No code is read."""
        ...
    def restore_rows(self, run_id: str) -> list[RestoreRow]:
        """Every attempt of the run as the few columns a resume reads, in proposal order (no code, no JSON parsed)."""
        ...
    def codes(self, attempt_ids: list[str]) -> dict[str, str]:
        """{id: code} of these attempts (those that have code)."""
        ...
    def set_fingerprints(self, rows: list[tuple[str, str, bytes | None]]) -> None:
        """Store (id, ast_hash, minhash) for attempts an old database lacks them for (one transaction)."""
        ...

    def add_llm_call(self, record: LLMCallRecord) -> None: ...
    def llm_calls(self, run_id: str) -> list[LLMCallRecord]: ...
    def usage_totals(self, run_id: str) -> dict[str, float]: ...

    def set_state(self, run_id: str, key: str, value: Any) -> None: ...
    def allocate_index(self, run_id: str) -> int:
        """The next proposal index of the run, unique across every process sharing it (atomic)."""
        ...
    def get_state(self, run_id: str, key: str, default: Any = None) -> Any: ...

    def add_event(self, run_id: str, kind: str, payload: dict[str, Any]) -> None: ...
    def events(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


def sqlite_url_for(path: Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def open_storage(url: str, *, read_only: bool = False, create: bool = True) -> Storage:
    """Open a storage by URL. A bare path to a ``.db`` file is accepted as SQLite."""
    if "://" not in url:
        url = sqlite_url_for(Path(url))
    scheme = url.split("://", 1)[0].lower()
    if scheme == "sqlite":
        from .sqlite import SQLiteStorage

        return SQLiteStorage(url, read_only=read_only, create=create)
    if scheme.split("+", 1)[0] in ("postgresql", "postgres"):   # postgresql://, postgres://, postgresql+psycopg://
        from .postgres import PostgresStorage

        return PostgresStorage(url, read_only=read_only, create=create)
    raise StorageError(f"unsupported storage URL {url!r}: use sqlite:///PATH.db or postgresql://USER@HOST/DB")


def iter_statuses(values: Iterable[str]) -> list[AttemptStatus]:
    return [AttemptStatus(v) for v in values]
