"""PostgreSQL storage through SQLAlchemy 2 Core and psycopg 3, for runs shared by machines.

Why a server database: several controller processes, on different machines, can write one
run at once (Optuna-style). So every write is one short transaction, rows are written with
``INSERT … ON CONFLICT … DO UPDATE`` (never read-modify-write in Python), a pool of connections
serves the engine's worker threads, and the schema is created and migrated under an advisory
lock at open time (`evoforge.storage.migrations`). The tables and the row codec are those of the
SQLite backend (`evoforge.storage.schema`, `evoforge.storage.rows`), and the conformance suite
`evoforge.testing.storage_suite` holds both to the same semantics.

Named for what it supports: the statements use PostgreSQL's dialect (``ON CONFLICT``, ``RETURNING``,
advisory locks, identity columns), so this is not a generic SQLAlchemy backend; the old name
``SQLAlchemyStorage`` (`evoforge.storage.sqlalchemy_storage`) stays for one release as an alias.

Passwords: prefer ``~/.pgpass`` or ``PGPASSWORD`` over a password in the URL, because the URL
is shown in logs and written into the run folder; error messages here always mask it.
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import StorageError, require
from ..program import Attempt, AttemptStatus, LLMCallRecord, new_id
from .base import RunInfo
from .fingerprints import RESTORE_COLUMNS, FingerprintRow, RestoreRow
from .rows import (
    ATTEMPT_COLUMNS,
    FINGERPRINT_COLUMNS,
    LIGHT_COLUMNS,
    LLM_CALL_COLUMNS,
    MANIFEST_COLUMN,
    TEXT_COLUMNS,
    attempt_from_row,
    attempt_row,
    code_from_manifest,
    manifest_hashes,
    event_from_row,
    llm_call_from_row,
    llm_call_values,
    run_from_row,
    run_values,
    safe_json,
    usage_from_row,
)
from .schema import check_version

T = TypeVar("T")


def mask_url(url: str) -> str:
    """The URL with any password replaced by ``***`` (for messages and logs)."""
    return re.sub(r"(://[^/:@]+:)[^@/]*@", r"\1***@", url)


def driver_url(url: str) -> str:
    """``postgresql://…`` / ``postgres://…`` -> ``postgresql+psycopg://…`` (psycopg 3)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise StorageError(f"bad PostgreSQL URL {mask_url(url)!r}: expected postgresql://USER@HOST/DB")
    base = scheme.split("+", 1)[0].lower()
    if base not in ("postgresql", "postgres"):
        raise StorageError(f"not a PostgreSQL URL: {mask_url(url)!r}")
    return f"postgresql+psycopg://{rest}"


def _no_nul(value: Any) -> Any:
    """PostgreSQL TEXT cannot hold NUL characters (SQLite can): candidate output sometimes
    does, so they become U+FFFD rather than failing the whole write."""
    return value.replace("\x00", "\ufffd") if isinstance(value, str) and "\x00" in value else value


class PostgresStorage:
    """`Storage` on a PostgreSQL database. Thread-safe: a connection pool, one transaction per write."""

    def __init__(self, url: str, *, read_only: bool = False, create: bool = True,
                 pool_size: int = 4, max_overflow: int = 12) -> None:
        sa = require("sqlalchemy", "postgres", "PostgreSQL storage")
        require("psycopg", "postgres", "PostgreSQL storage")
        from .migrations import postgres as schema

        self._sa, self._schema, self._t = sa, schema, schema.TABLES
        self.url = url
        self.read_only = read_only
        self._shown = mask_url(url)
        self._closed = threading.Event()
        connect_args: dict[str, Any] = {"application_name": "evoforge", "connect_timeout": 10}
        if read_only:  # defence in depth: the server refuses writes on these connections too
            connect_args["options"] = "-c default_transaction_read_only=on"
        # Autocommit: every write here is ONE statement, which PostgreSQL runs as its own
        # transaction; that saves the BEGIN/COMMIT round trips (a read is one round trip).
        # No pre-ping either: a dropped connection is retried once instead (see `_run`).
        try:
            self._engine = sa.create_engine(
                driver_url(url), pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800,
                isolation_level="AUTOCOMMIT", connect_args=connect_args,
            )
        except sa.exc.SQLAlchemyError as exc:
            raise StorageError(f"bad PostgreSQL URL {self._shown}: {self._why(exc)}") from None
        try:
            with self._engine.connect() as conn:  # migrations: one real transaction, under a lock
                conn = conn.execution_options(isolation_level="READ COMMITTED")
                with conn.begin():
                    if read_only:
                        found = schema.schema_version(conn)
                        check_version(found, self._shown)
                    else:
                        found = schema.migrate(conn, self._shown, create=create)
        except StorageError:
            self._engine.dispose()
            raise
        except sa.exc.SQLAlchemyError as exc:
            self._engine.dispose()
            raise StorageError(f"cannot open the PostgreSQL database {self._shown}: {self._why(exc)}") from None
        if read_only and found == 0:
            self._engine.dispose()
            raise StorageError(f"no evoforge database at {self._shown} (no schema found)")
        # read-only: an old (version 1) database has no fingerprint columns, so none are read
        self.fingerprinted = not read_only or found >= 2
        # read-only: a database older than version 3 has no manifests (every code is in `code`)
        self.manifested = not read_only or found >= 3

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _why(exc: BaseException) -> str:
        orig = getattr(exc, "orig", None) or exc
        return " ".join(str(orig).split())[:500]

    def _run(self, fn: Callable[[Any], T], doing: str) -> T:
        """`fn(connection)` on a pooled connection; once more on a fresh one if the first was
        dropped (server restart, network blip). Every write is idempotent (upserts, inserts
        that ignore a repeated id) except `add_event`, which may then store an event twice."""
        sa = self._sa
        for attempt in (0, 1):
            try:
                with self._engine.connect() as conn:
                    return fn(conn)
            except sa.exc.DBAPIError as exc:
                if attempt == 0 and exc.connection_invalidated:
                    continue
                raise StorageError(f"cannot {doing} {self._shown}: {self._why(exc)}") from None
            except sa.exc.SQLAlchemyError as exc:
                raise StorageError(f"cannot {doing} {self._shown}: {self._why(exc)}") from None
        raise AssertionError("unreachable")

    def _write(self, fn: Callable[[Any], T]) -> T:
        """One write statement: committed whole or not at all (autocommit = one transaction)."""
        if self.read_only:
            raise StorageError("this storage was opened read-only")
        return self._run(fn, "write to")

    def _read(self, stmt: Any) -> list[Any]:
        return self._run(lambda conn: list(conn.execute(stmt).mappings().all()), "read from")

    def _scalar(self, stmt: Any) -> Any:
        return self._run(lambda conn: conn.execute(stmt).scalar_one(), "read from")

    def _upsert(self, table: Any, values: dict[str, Any], keys: list[str]) -> Any:
        from sqlalchemy.dialects.postgresql import insert

        stmt = insert(table).values(**values)
        return stmt.on_conflict_do_update(
            index_elements=[table.c[k] for k in keys],
            set_={c: stmt.excluded[c] for c in values if c not in keys},
        )

    # -- runs ----------------------------------------------------------------------------
    def create_run(self, name: str, config: dict[str, Any], task_path: str, meta: dict[str, Any] | None = None) -> RunInfo:
        info = RunInfo(id=new_id(), name=name, created_at=time.time(), config=config, task_path=task_path, meta=meta or {})
        runs = self._t["runs"]
        from sqlalchemy.dialects.postgresql import insert

        values = run_values(info)
        values["task_path"] = _no_nul(task_path)
        stmt = insert(runs).values(**values).on_conflict_do_nothing(index_elements=[runs.c.name]).returning(runs.c.id)
        if self._write(lambda c: c.execute(stmt).first()) is None:  # atomic: two controllers cannot both create it
            raise StorageError(f"a run named {name!r} already exists in {self._shown}")
        return info

    def get_run(self, name_or_id: str) -> RunInfo | None:
        runs = self._t["runs"]
        rows = self._read(self._sa.select(runs).where((runs.c.id == name_or_id) | (runs.c.name == name_or_id))
                          .order_by((runs.c.id == name_or_id).desc()).limit(1))
        return run_from_row(rows[0]) if rows else None

    def list_runs(self) -> list[RunInfo]:
        runs = self._t["runs"]
        return [run_from_row(r) for r in self._read(self._sa.select(runs).order_by(runs.c.created_at, runs.c.id))]

    def update_run_meta(self, run_id: str, meta: dict[str, Any]) -> None:
        runs = self._t["runs"]
        self._write(lambda c: c.execute(runs.update().where(runs.c.id == run_id).values(meta=safe_json(meta))))

    # -- attempts ------------------------------------------------------------------------
    def save_attempt(self, attempt: Attempt, fingerprint: tuple[str, bytes | None] | None = None) -> None:
        from sqlalchemy.dialects.postgresql import insert

        row, blobs = attempt_row(attempt, fingerprint)
        values = {c: (_no_nul(v) if c in TEXT_COLUMNS else v) for c, v in row.items()}
        a, sa = self._t["attempts"], self._sa
        stmt = insert(a).values(**values)
        same_code = a.c.code_hash.is_not_distinct_from(stmt.excluded.code_hash)
        # a re-save without a fingerprint keeps the stored one, unless the code itself changed
        keep = {c: sa.case((same_code, sa.func.coalesce(stmt.excluded[c], a.c[c])), else_=stmt.excluded[c])
                for c in FINGERPRINT_COLUMNS}
        stmt = stmt.on_conflict_do_update(
            index_elements=[a.c.id],
            set_={**{c: stmt.excluded[c] for c in (*ATTEMPT_COLUMNS, MANIFEST_COLUMN) if c != "id"}, **keep})
        if not blobs:
            self._write(lambda c: c.execute(stmt))
            return
        # a folder program: its files (each stored once, by content hash) and its row, one transaction
        b = self._t["blobs"]
        store = insert(b).on_conflict_do_nothing(index_elements=[b.c.hash])
        contents = [{"hash": h, "content": _no_nul(text)} for h, text in blobs.items()]

        def run(conn: Any) -> None:
            with conn.begin():
                conn.execute(store, contents)
                conn.execute(stmt)
        self._write(lambda c: run(c.execution_options(isolation_level="READ COMMITTED")))

    def _blobs(self, hashes: set[str]) -> dict[str, str]:
        b, out = self._t["blobs"], {}
        ordered = sorted(hashes)
        for start in range(0, len(ordered), 1000):
            stmt = self._sa.select(b.c.hash, b.c.content).where(b.c.hash.in_(ordered[start:start + 1000]))
            out.update((r["hash"], r["content"]) for r in self._read(stmt))
        return out

    def _attempts_from(self, rows: list[Any]) -> list[Attempt]:
        """Attempts from full rows, folder programs' code rebuilt from their manifests (one blob query)."""
        hashes = manifest_hashes(rows)
        blobs = self._blobs(hashes) if hashes else {}
        return [attempt_from_row(r, blobs) for r in rows]

    def _has_code(self) -> Any:
        a = self._t["attempts"]
        return (a.c.code.is_not(None) | a.c[MANIFEST_COLUMN].is_not(None)) if self.manifested else a.c.code.is_not(None)

    # -- fingerprints (schema version 2) ---------------------------------------------------
    def find_by_ast_hash(self, run_id: str, ast_hash: str, statuses: tuple[str, ...]) -> str | None:
        if not self.fingerprinted:
            return None
        a = self._t["attempts"]
        stmt = (self._sa.select(a.c.id).where(a.c.run_id == run_id, a.c.ast_hash == ast_hash,
                                              a.c.status.in_(list(statuses)))
                .order_by(a.c.proposal_index, a.c.created_at, a.c.id).limit(1))
        rows = self._read(stmt)
        return rows[0]["id"] if rows else None

    def fingerprints(self, run_id: str, statuses: tuple[str, ...], *, programs_only: bool = False) -> list[FingerprintRow]:
        if not self.fingerprinted:
            return []
        a = self._t["attempts"]
        stmt = self._sa.select(a.c.id, a.c.ast_hash, a.c.minhash, self._has_code().label("has_code")).where(
            a.c.run_id == run_id, a.c.status.in_(list(statuses)))
        if programs_only:
            stmt = stmt.where(a.c.score.is_not(None))
        stmt = stmt.order_by(a.c.proposal_index, a.c.created_at, a.c.id)
        rows = self._run(lambda conn: conn.execute(stmt).all(), "read from")
        return [FingerprintRow(r[0], r[1], bytes(r[2]) if r[2] is not None else None, bool(r[3])) for r in rows]

    def restore_rows(self, run_id: str) -> list[RestoreRow]:
        a = self._t["attempts"]
        stmt = (self._sa.select(*[a.c[c] for c in RESTORE_COLUMNS]).where(a.c.run_id == run_id)
                .order_by(a.c.proposal_index, a.c.created_at, a.c.id))
        return [RestoreRow._make(r) for r in self._run(lambda conn: conn.execute(stmt).all(), "read from")]

    def codes(self, attempt_ids: list[str]) -> dict[str, str]:
        a, out, manifests = self._t["attempts"], {}, {}
        for start in range(0, len(attempt_ids), 1000):
            stmt = self._sa.select(a.c.id, a.c.code, self._manifest()).where(
                a.c.id.in_(attempt_ids[start:start + 1000]), self._has_code())
            for r in self._read(stmt):
                if r[MANIFEST_COLUMN]:
                    manifests[r["id"]] = r[MANIFEST_COLUMN]
                else:
                    out[r["id"]] = r["code"]
        if manifests:
            blobs = self._blobs(manifest_hashes({MANIFEST_COLUMN: m} for m in manifests.values()))
            out.update((pid, code_from_manifest(m, blobs)) for pid, m in manifests.items())
        return out

    def set_fingerprints(self, rows: list[tuple[str, str, bytes | None]]) -> None:
        if not rows:
            return
        a, sa = self._t["attempts"], self._sa
        stmt = a.update().where(a.c.id == sa.bindparam("pid")).values(
            ast_hash=sa.bindparam("h"), minhash=sa.bindparam("sig"))
        params = [{"pid": pid, "h": h, "sig": sig} for pid, h, sig in rows]

        def run(conn: Any) -> None:
            with conn.begin():  # one transaction for the batch (the pool is autocommit otherwise)
                conn.execute(stmt, params)
        self._write(lambda c: run(c.execution_options(isolation_level="READ COMMITTED")))

    def _manifest(self) -> Any:
        a = self._t["attempts"]
        return a.c[MANIFEST_COLUMN] if self.manifested else self._sa.null().label(MANIFEST_COLUMN)

    def _columns(self, with_code: bool = True) -> list[Any]:
        a = self._t["attempts"]
        if not with_code:
            return [a.c[c] for c in LIGHT_COLUMNS]
        return [*(a.c[c] for c in ATTEMPT_COLUMNS), self._manifest()]

    def get_attempt(self, attempt_id: str) -> Attempt | None:
        a, sa = self._t["attempts"], self._sa
        rows = self._read(sa.select(*self._columns()).where(a.c.id == attempt_id))
        if not rows:  # allow unique id prefixes, as git does
            prefix = attempt_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            rows = self._read(sa.select(*self._columns()).where(a.c.id.like(prefix + "%", escape="\\")).limit(2))
            if len(rows) != 1:
                return None
        return self._attempts_from(rows)[0]

    def attempts(
        self, run_id: str, *, status: AttemptStatus | None = None, island: int | None = None,
        since_index: int | None = None, limit: int | None = None, with_code: bool = True,
    ) -> list[Attempt]:
        a = self._t["attempts"]
        stmt = self._sa.select(*self._columns(with_code)).where(a.c.run_id == run_id)
        if status is not None:
            stmt = stmt.where(a.c.status == AttemptStatus(status).value)
        if island is not None:
            stmt = stmt.where(a.c.island == island)
        if since_index is not None:
            stmt = stmt.where(a.c.proposal_index >= since_index)
        stmt = stmt.order_by(a.c.proposal_index, a.c.created_at, a.c.id)
        if limit is not None:
            stmt = stmt.limit(limit)
        return self._attempts_from(self._read(stmt))

    def count_attempts(self, run_id: str, status: AttemptStatus | None = None) -> int:
        a, sa = self._t["attempts"], self._sa
        stmt = sa.select(sa.func.count()).select_from(a).where(a.c.run_id == run_id)
        if status is not None:
            stmt = stmt.where(a.c.status == AttemptStatus(status).value)
        return int(self._scalar(stmt))

    def best_attempts(self, run_id: str, n: int = 1, *, maximize: bool = True, island: int | None = None) -> list[Attempt]:
        a = self._t["attempts"]
        stmt = self._sa.select(*self._columns()).where(
            a.c.run_id == run_id, a.c.status == AttemptStatus.OK.value, a.c.score.is_not(None))
        if island is not None:
            stmt = stmt.where(a.c.island == island)
        order = a.c.score.desc() if maximize else a.c.score.asc()
        stmt = stmt.order_by(order, a.c.proposal_index.asc(), a.c.created_at, a.c.id).limit(n)
        return self._attempts_from(self._read(stmt))

    def find_by_hash(self, run_id: str, code_hash: str) -> Attempt | None:
        a = self._t["attempts"]
        stmt = (self._sa.select(*self._columns())
                .where(a.c.run_id == run_id, a.c.code_hash == code_hash,
                       a.c.status.not_in([AttemptStatus.PENDING.value, AttemptStatus.DUPLICATE.value]))
                .order_by(a.c.proposal_index, a.c.created_at, a.c.id).limit(1))
        rows = self._read(stmt)
        return self._attempts_from(rows)[0] if rows else None

    # -- llm usage -----------------------------------------------------------------------
    def add_llm_call(self, record: LLMCallRecord) -> None:
        values = {c: _no_nul(v) for c, v in llm_call_values(record).items()}
        from sqlalchemy.dialects.postgresql import insert

        stmt = insert(self._t["llm_calls"]).values(**values).on_conflict_do_nothing(index_elements=["id"])
        self._write(lambda c: c.execute(stmt))

    def llm_calls(self, run_id: str) -> list[LLMCallRecord]:
        t = self._t["llm_calls"]
        cols = [t.c[c] for c in LLM_CALL_COLUMNS]
        rows = self._read(self._sa.select(*cols).where(t.c.run_id == run_id).order_by(t.c.created_at, t.c.seq))
        return [llm_call_from_row(r) for r in rows]

    def usage_totals(self, run_id: str) -> dict[str, float]:
        t, sa = self._t["llm_calls"], self._sa
        total = lambda col: sa.func.coalesce(sa.func.sum(col), 0)  
        stmt = sa.select(sa.func.count().label("calls"), total(t.c.input_tokens).label("input_tokens"),
                         total(t.c.output_tokens).label("output_tokens"),
                         total(t.c.reasoning_tokens).label("reasoning_tokens"),
                         total(t.c.cost_usd).label("cost_usd")).where(t.c.run_id == run_id)
        row = self._read(stmt)[0]
        return usage_from_row(row["calls"], row["input_tokens"], row["output_tokens"], row["reasoning_tokens"],
                              row["cost_usd"])

    # -- engine state and events -----------------------------------------------------------
    def set_state(self, run_id: str, key: str, value: Any) -> None:
        stmt = self._upsert(self._t["state"], {"run_id": run_id, "key": key, "value": safe_json(value)}, ["run_id", "key"])
        self._write(lambda c: c.execute(stmt))

    def allocate_index(self, run_id: str) -> int:
        """Atomic on the server: an upsert that increments the counter and returns the old value,
        seeded from the largest stored proposal index the first time."""
        sa = self._sa
        stmt = sa.text(
            "INSERT INTO state(run_id, key, value) "
            "SELECT :run, 'next_index', CAST(COALESCE(MAX(proposal_index), -1) + 2 AS TEXT) FROM attempts WHERE run_id = :run "
            "ON CONFLICT (run_id, key) DO UPDATE SET value = CAST(CAST(state.value AS INTEGER) + 1 AS TEXT) "
            "RETURNING CAST(value AS INTEGER) - 1"
        )
        return int(self._write(lambda c: c.execute(stmt, {"run": run_id}).scalar_one()))

    def get_state(self, run_id: str, key: str, default: Any = None) -> Any:
        t = self._t["state"]
        rows = self._read(self._sa.select(t.c.value).where(t.c.run_id == run_id, t.c.key == key))
        return json.loads(rows[0]["value"]) if rows else default

    def add_event(self, run_id: str, kind: str, payload: dict[str, Any]) -> None:
        stmt = self._t["events"].insert().values(run_id=run_id, created_at=time.time(), kind=kind,
                                                 payload=safe_json(payload))
        self._write(lambda c: c.execute(stmt))

    def events(self, run_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        t = self._t["events"]
        stmt = self._sa.select(t).where(t.c.run_id == run_id)
        if kind:
            stmt = stmt.where(t.c.kind == kind)
        rows = self._read(stmt.order_by(t.c.id))
        return [event_from_row(r) for r in rows]

    def close(self) -> None:
        if not self._closed.is_set():
            self._closed.set()
            self._engine.dispose()
