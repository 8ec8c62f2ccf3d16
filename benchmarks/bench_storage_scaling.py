"""Engine overhead per proposal as the database grows (1k, 10k, 100k stored attempts).

For each backend (SQLite; PostgreSQL when its server binaries are installed, started here in a
temp folder) and each size N:
1. insert N synthetic attempts (85% programs, 10% failed with code, 5% failed before code, two
   islands), each with its fingerprint (normalized-AST hash, MinHash signature), as the engine
   stores them when it is told. The attempts and fingerprints are generated once, for the largest
   size (the smaller sizes are prefixes). All but the last 1,000 go in through the database driver
   in one transaction (`bulk_insert`: a 100k fill one `save_attempt` at a time takes most of an hour
   on a loaded 2-core machine); the last 1,000 go through `Storage.save_attempt`, and `insert us`
   is their mean cost;
2. time `Engine(...)` construction, which restores the population from storage, twice: `full s`
   replays every stored attempt and reads every stored signature (the restore without a snapshot,
   re-hashing no code: `sigs computed` is the number of signatures it had to compute, 0), and stores
   a population snapshot; `restore s` is the resume after it, which reads and replays only the
   attempts after the snapshot (`replayed`), `ratio` is full / restore, and `lsh s` the first
   near-duplicate check's reading of the stored signatures (deferred until then);
3. time `ask()` + `tell()` of K zero-cost proposals (the `perturb` operator, an instant
   synthetic evaluation): selection, edit, novelty check, duplicate lookup, stores, archive update;
4. time the storage calls a proposal makes at size N: get_attempt, find_by_hash of a stored
   program and of a new one ("miss", what every novel proposal costs), find_by_ast_hash of a new
   normalized AST ("ast miss"), allocate_index, save_attempt, best of an island.

Selection and insertion must stay near constant per proposal as N grows. A size may be given
twice (``--sizes 1000,100000,1000``) to bracket the large one: on a loaded machine the load moves
more between rows than N does. Run:
``python benchmarks/bench_storage_scaling.py [--sizes 1000,10000,100000] [--proposals 200] [--backends sqlite,postgresql]``.
"""
from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import scratch, start_postgres, table, write_task

EVALUATED = ("ok", "invalid", "error", "timeout", "quarantined")   # what the AST-duplicate check asks for

EXTRA_LINES = ["x = x * 2", "x = abs(x) + {c}", "y = [i * {c} for i in range(3)]", "z = max(x, {c})",
               "if x > {c}:\n        x -= 1", "w = sum(range({n}))", "v = {c} ** 2", "u = (x, {c})"]


def synthetic_code(rng: random.Random) -> str:
    """A small, valid program with perturbable constants and some structural variety."""
    lines = [f"x = {rng.uniform(-5, 5):.6f}"]
    for _ in range(rng.randint(1, 4)):
        lines.append(rng.choice(EXTRA_LINES).format(c=f"{rng.uniform(0, 9):.4f}", n=rng.randint(2, 50)))
    body = "\n    ".join(lines)
    return (f"# EVOLVE-BLOCK-START\ndef value():\n    {body}\n    VALUE = {rng.uniform(0, 100):.6f}\n"
            f"    return VALUE\n# EVOLVE-BLOCK-END\n")


@dataclass(frozen=True)
class Row:
    """One synthetic attempt, independent of any run: generated (and fingerprinted) once per
    benchmark for the largest size and reused, as a prefix, for every size and backend."""

    status: str
    code: str | None
    score: float | None
    parent: int | None          # position of an earlier program, or None
    fingerprint: tuple[str, bytes | None] | None


def dataset(n: int, seed: int) -> list[Row]:
    """85% programs, 10% failed with code, 5% failed before code (the first is a program)."""
    from evoforge.search.novelty import NoveltyFilter

    rng = random.Random(seed)
    hasher = NoveltyFilter()   # the engine stores this fingerprint with each attempt it is told
    ok: list[int] = []
    rows: list[Row] = []
    for i in range(n):
        r = rng.random()
        status = "ok" if r < 0.85 or i == 0 else "error" if r < 0.95 else "parse_failed"
        code = None if status == "parse_failed" else synthetic_code(rng)
        fingerprint = None
        if code is not None:
            digest, sig = hasher.fingerprint(code)
            fingerprint = (digest, sig if status == "ok" else None)
        rows.append(Row(status, code, rng.uniform(0, 100) if status == "ok" else None,
                        rng.choice(ok) if ok else None, fingerprint))
        if status == "ok":
            ok.append(i)
    return rows


def attempts_of(run_id: str, rows: list[Row]) -> list[Any]:
    from evoforge.program import Attempt, AttemptStatus

    out: list[Any] = []
    for i, row in enumerate(rows):
        out.append(Attempt(run_id=run_id, code=row.code, status=AttemptStatus(row.status), island=i % 2,
                           proposal_index=i, parent_id=out[row.parent].id if row.parent is not None else None,
                           generation=1 + i // 1000, mutation="initial" if i == 0 else "perturb", score=row.score,
                           reason="" if row.status == "ok" else "synthetic failure", stdout="out " * 20))
    return out


def bulk_insert(url: str, attempts: list[Any], rows: list[Row]) -> None:
    """Insert attempts straight through the database driver, in one transaction (SQLite
    `executemany`, PostgreSQL `COPY`): filling 100k rows one `save_attempt` at a time takes
    most of an hour on a loaded 2-core machine, and the fill is not what is measured. The rows
    are those `save_attempt` writes (schema version 2, the same in every evoforge this runs on)."""
    cols = ["id", "run_id", "parent_id", "inspiration_ids", "island", "generation", "status", "mutation", "model",
            "score", "private_score", "metrics", "feedback", "reason", "diff", "prompt", "response", "stdout",
            "stderr", "code", "code_hash", "input_tokens", "output_tokens", "eval_seconds", "created_at",
            "proposal_index", "ast_hash", "minhash"]
    values = []
    for a, row in zip(attempts, rows):
        d = a.to_dict()
        d["metrics"], d["inspiration_ids"] = json.dumps(a.metrics), json.dumps(a.inspiration_ids)
        d["ast_hash"], d["minhash"] = row.fingerprint or (None, None)
        values.append(tuple(d[c] for c in cols))
    if url.startswith("sqlite"):
        con = sqlite3.connect(url.split("://", 1)[1][1:], timeout=60)
        with con:
            con.executemany(f"INSERT INTO attempts({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})", values)
        con.close()
        return
    import psycopg

    with psycopg.connect(url) as con, con.cursor() as cur:
        with cur.copy(f"COPY attempts ({', '.join(cols)}) FROM STDIN") as copy:
            for v in values:
                copy.write_row(v)
        cur.execute("ANALYZE attempts")   # what autovacuum does soon after a bulk load


def populate(store: Any, run_id: str, rows: list[Row]) -> float:
    """Insert the rows: all but the last 1,000 in bulk, those through `save_attempt` (the engine's
    path); return the mean µs per `save_attempt`."""
    attempts = attempts_of(run_id, rows)
    head = max(0, len(rows) - 1000)
    if head:
        bulk_insert(store.url, attempts[:head], rows[:head])
    tail: list[float] = []
    for a, row in zip(attempts[head:], rows[head:]):
        start = time.perf_counter()
        store.save_attempt(a, row.fingerprint)
        tail.append(time.perf_counter() - start)
    return statistics.fmean(tail) * 1e6


def rss_mb() -> float:
    """Resident memory now (not the peak: several sizes run in one process)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * resource.getpagesize() / 2**20
    except OSError:  # not Linux: the peak is the best we have
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_ops(store: Any, run_id: str, rng: random.Random, reps: int = 200) -> dict[str, float]:
    """Mean ms of the storage calls one proposal makes, at the current size."""
    from evoforge.program import AttemptStatus

    sample = store.attempts(run_id, status=AttemptStatus.OK, limit=reps * 4, with_code=True)
    picks = [rng.choice(sample) for _ in range(reps)]
    out: dict[str, float] = {}
    for name, fn in (("get_attempt", lambda a: store.get_attempt(a.id)),
                     ("find_by_hash", lambda a: store.find_by_hash(run_id, a.code_hash)),
                     ("hash miss", lambda a: store.find_by_hash(run_id, "f" * 32)),  # a new program: the usual case
                     ("ast miss", lambda a: store.find_by_ast_hash(run_id, "f" * 32, EVALUATED)),
                     ("allocate", lambda a: store.allocate_index(run_id)),
                     ("save_attempt", lambda a: store.save_attempt(a)),
                     ("best(island)", lambda a: store.best_attempts(run_id, 1, island=a.island))):
        start = time.perf_counter()
        for a in picks:
            fn(a)
        out[name] = (time.perf_counter() - start) / reps * 1000
    return out


def proposals(engine: Any, k: int, rng: random.Random) -> tuple[list[float], list[float], int]:
    """K ask/tell rounds with an instant synthetic evaluation; (ask ms, tell ms, duplicates)."""
    from evoforge.sandbox import Evaluation, Result

    asks, tells, dups = [], [], 0
    for _ in range(k):
        t0 = time.perf_counter()
        p = engine.ask()
        asks.append((time.perf_counter() - t0) * 1000)
        if p is None:
            raise RuntimeError(f"the engine stopped: {engine.stop_reason}")
        if not p.needs_evaluation:
            dups += 1
            continue
        ev = Evaluation("ok", result=Result(score=rng.uniform(0, 120), feedback="synthetic"))
        t0 = time.perf_counter()
        engine.tell(p, ev)
        tells.append((time.perf_counter() - t0) * 1000)
    return asks, tells, dups


class WorkCounter:
    """The work each storage call does during the proposals, in units the machine's load does not
    change: SQLite virtual-machine steps (a progress handler on the backend's connection) and
    PostgreSQL shared-buffer pages touched (auto_explain with buffers, read back from the server's
    log). A diagnostic: it reaches into the backends' connection objects. A call whose work grows
    with N is what makes `ask` grow; a B-tree probe grows by a page or two per tree level."""

    def __init__(self, store: Any, server_log: Path | None) -> None:
        self.store, self.log = store, server_log
        self.work: dict[str, list[int]] = {}
        if server_log is None:
            self.steps = 0

            def tick() -> int:
                self.steps += 1
                return 0
            store._conn.set_progress_handler(tick, 1)
            for name in ("get_attempt", "find_by_hash", "find_by_ast_hash", "allocate_index", "save_attempt",
                         "add_event", "add_llm_call", "attempts", "best_attempts", "get_state", "set_state"):
                setattr(store, name, self._counted(name, getattr(store, name)))
        else:
            import sqlalchemy as sa

            store._engine.dispose()   # new pooled connections load auto_explain
            sa.event.listen(store._engine, "connect", self._explain)
            self.start = server_log.stat().st_size

    def _counted(self, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            before = self.steps
            try:
                return fn(*args, **kwargs)
            finally:
                self.work.setdefault(name, []).append(self.steps - before)
        return counted

    @staticmethod
    def _explain(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cur:
            for sql in ("LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
                        "SET auto_explain.log_analyze = on", "SET auto_explain.log_buffers = on",
                        "SET auto_explain.log_timing = off"):
                cur.execute(sql)

    def rows(self, backend: str, n: int, k: int) -> list[list[Any]]:
        if self.log is not None:
            import re

            text = self.log.read_text(errors="replace")[self.start:]
            for block in text.split("Query Text:")[1:]:
                sql = []   # the statement's lines, up to the first plan node
                for line in block.split("\n"):
                    if "(cost=" in line:
                        break
                    sql.append(line)
                query = " ".join(" ".join(sql).split())
                head, where, cond = query.partition(" WHERE ")
                query = head[:28] + (" … WHERE " + cond[:44] if where else "")
                m = re.search(r"Buffers: shared hit=(\d+)(?: read=(\d+))?", block)
                self.work.setdefault(query, []).append(int(m.group(1)) + int(m.group(2) or 0) if m else 0)
        return [[backend, n, name, len(v) / k, statistics.fmean(v), max(v)]
                for name, v in sorted(self.work.items(), key=lambda kv: -sum(kv[1]))]


def measure(backend: str, url_factory: Callable[[], str], rows: list[Row], k: int, seed: int,
            work: list[list[Any]] | None = None, server_log: Path | None = None) -> list[Any]:
    from evoforge.engine.core import Engine
    from evoforge.storage import open_storage
    from evoforge.task import load_task

    n = len(rows)
    rng = random.Random(seed)
    root = scratch("evoforge-scale-")
    task = load_task(write_task(root / "task"), {
        "mutation.weights": {"perturb": 1.0}, "budget.llm_calls": None, "budget.proposals": None,
        "evaluator.workers": 1})
    store = open_storage(url_factory())
    run = store.create_run(f"scale-{n}", task.config.to_dict(), str(task.path))
    t0 = time.perf_counter()
    insert_us = populate(store, run.id, rows)
    fill_s = time.perf_counter() - t0
    ops = timed_ops(store, run.id, rng)
    t0 = time.perf_counter()
    full = Engine(task, store, run, {}, restore_snapshot=False)   # the full replay (and it stores a snapshot)
    full_s = time.perf_counter() - t0
    computed0 = full.novelty.computed
    del full
    gc.collect()
    rss0 = rss_mb()
    t0 = time.perf_counter()
    engine = Engine(task, store, run, {})   # a resume with the snapshot
    restore_s = time.perf_counter() - t0
    replayed = engine.restored.replayed
    t0 = time.perf_counter()
    stored_programs = len(engine.novelty)   # the first near-duplicate check reads the stored signatures
    lsh_s = time.perf_counter() - t0
    gc.collect()
    rss1 = rss_mb()
    counter = WorkCounter(store, server_log) if work is not None else None
    asks, tells, dups = proposals(engine, k, rng)
    if counter is not None:
        work.extend(counter.rows(backend, n, k))
    store.close()
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(p * len(xs)))]
    assert stored_programs == sum(r.status == "ok" for r in rows)
    return [backend, n, fill_s, insert_us, full_s, restore_s, full_s / restore_s, replayed, lsh_s, rss1 - rss0, computed0,
            statistics.fmean(asks), q(asks, 0.95),
            statistics.fmean(tells), q(tells, 0.95), dups, ops["get_attempt"], ops["find_by_hash"],
            ops["hash miss"], ops["ast miss"], ops["allocate"], ops["save_attempt"], ops["best(island)"]]


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="1000,10000,100000")
    p.add_argument("--proposals", type=int, default=200, help="ask/tell rounds timed at each size")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", action="store_true",
                   help="also count the work of each storage call during the proposals (SQLite VM steps, "
                        "PostgreSQL buffer pages): a measure the machine's load does not change")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    t0 = time.perf_counter()
    data = dataset(max(sizes), args.seed)
    print(f"  dataset: {len(data)} attempts fingerprinted in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    rows: list[list[Any]] = []
    work: list[list[Any]] | None = [] if args.work else None
    pg = None
    try:
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if backend == "sqlite":
                factory: Callable[[], str] = lambda: f"sqlite:///{scratch('evoforge-scale-db-') / 'run.db'}"
            elif backend == "postgresql":
                pg = pg or start_postgres()
                if pg is None:
                    print("postgresql: skipped (server binaries, psycopg or sqlalchemy missing)", file=sys.stderr)
                    continue
                factory = pg[1]
            else:
                raise SystemExit(f"unknown backend {backend!r}")
            for n in sizes:
                log = pg[0].root / "server.log" if backend == "postgresql" and pg is not None else None
                rows.append(measure(backend, factory, data[:n], args.proposals, args.seed, work, log))
                print(f"  done: {backend} N={n}", file=sys.stderr, flush=True)
    finally:
        if pg is not None:
            pg[0].stop()
    header = ["backend", "N", "fill s", "insert us", "full s", "restore s", "ratio", "replayed", "lsh s", "restore MB",
              "sigs computed", "ask ms", "ask p95", "tell ms",
              "tell p95", "dups", "get ms", "hash ms", "miss ms", "ast miss", "alloc ms", "save ms", "best ms"]
    text = table(f"Engine overhead per proposal as the database grows ({args.proposals} proposals per size)",
                 header, rows)
    if work is not None:
        text += "\n\n" + table("Work per storage call during the proposals (SQLite: VM steps; PostgreSQL: buffer pages)",
                               ["backend", "N", "call / statement", "per proposal", "mean work", "max work"], work)
    print(text)
    return text


if __name__ == "__main__":
    main()
