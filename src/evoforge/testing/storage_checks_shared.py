"""Storage conformance checks, part 3: one database shared by threads, handles and processes, as
controllers share a run: no write is lost or fails, proposal indices are unique, and of several
processes creating one run name at the same instant exactly one creates it (the others get the
documented "already exists" refusal, never a constraint error and never a second run)."""
from __future__ import annotations

import multiprocessing
import queue
import subprocess
import sys
import threading
from collections import defaultdict
from typing import Any

import pytest

from evoforge.errors import StorageError
from evoforge.testing.storage_checks_rows import attempt

RACERS = 4
RACE_NAMES = 300   # check-then-insert lost 2-7% of such rounds here (one round in 15-50): 300 catch it


class SharedChecks:
    """Mixed into `storage_suite.StorageTestCase` (its `storage` and `open` fixtures)."""

    def test_second_handle_sees_every_write(self, storage: Any, open_url: Any) -> None:
        run = storage.create_run("r", {}, "/t")
        other = open_url(storage.url)
        other.save_attempt(attempt(run.id, 1, 5.0))
        other.add_event(run.id, "x", {})
        assert storage.best_attempts(run.id)[0].score == 5.0 and len(storage.events(run.id)) == 1
        with pytest.raises(StorageError, match="already exists"):
            other.create_run("r", {}, "/t")

    def test_concurrent_writer_threads(self, storage: Any) -> None:
        run = storage.create_run("r", {}, "/t")
        errors: list[BaseException] = []

        def write(base: int) -> None:
            try:
                for i in range(25):
                    storage.save_attempt(attempt(run.id, base + i, float(i)))
            except BaseException as exc:  # noqa: BLE001 - collected for the assert
                errors.append(exc)

        threads = [threading.Thread(target=write, args=(k * 100,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors and storage.count_attempts(run.id) == 100

    def test_allocate_index_is_unique_across_handles_and_threads(self, storage: Any, open_url: Any) -> None:
        run = storage.create_run("r", {}, "/t")
        storage.save_attempt(attempt(run.id, 4, 1.0))
        assert storage.allocate_index(run.id) == 5  # continues after the stored attempts
        other = open_url(storage.url)
        got: list[int] = []

        def grab(handle: Any) -> None:
            for _ in range(20):
                got.append(handle.allocate_index(run.id))

        threads = [threading.Thread(target=grab, args=(h,)) for h in (storage, other, storage, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(got) == list(range(6, 86))

    def test_several_processes_write_one_run(self, storage: Any) -> None:
        """Several controller processes share one run: no write is lost, none fails."""
        run = storage.create_run("r", {}, "/t")
        code = "import sys; from evoforge.testing.storage_workers import write_many; " \
               "write_many(sys.argv[1], sys.argv[2], int(sys.argv[3]))"
        procs = [subprocess.Popen([sys.executable, "-c", code, storage.url, run.id, str(k * 1000)],
                                  stderr=subprocess.PIPE, text=True) for k in range(3)]
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err
        assert storage.count_attempts(run.id) == 120
        assert storage.usage_totals(run.id)["input_tokens"] == 120
        assert len(storage.events(run.id, "tick")) == 120
        assert storage.get_state(run.id, "shared") in {39, 1039, 2039}

    def test_processes_creating_one_run_at_once_make_one_run(self, storage: Any) -> None:
        """Each round, every racer process passes a barrier and creates the same run name at
        once: exactly one creates it, the others are refused with "already exists"."""
        ctx = multiprocessing.get_context("spawn")
        barrier, results = ctx.Barrier(RACERS), ctx.Queue()
        names = [f"race-{i}" for i in range(RACE_NAMES)]
        from evoforge.testing.storage_workers import race_create_run

        procs = [ctx.Process(target=race_create_run, args=(storage.url, names, barrier, results, w))
                 for w in range(RACERS)]
        for p in procs:
            p.start()
        outcomes: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        try:
            for _ in range(RACERS * RACE_NAMES):
                worker, name, outcome, detail = results.get(timeout=600)
                outcomes[name].append((worker, outcome, detail))
        except queue.Empty:
            pytest.fail(f"racers stopped answering: {dict(outcomes)}")
        finally:
            for p in procs:
                p.join(timeout=120)
                if p.is_alive():
                    p.kill()
        assert all(p.exitcode == 0 for p in procs), [p.exitcode for p in procs]
        stored = {r.name: r.id for r in storage.list_runs() if r.name.startswith("race-")}
        assert sorted(stored) == sorted(names)
        for name in names:
            kinds = sorted(o for _, o, _ in outcomes[name])
            assert kinds == ["created"] + ["exists"] * (RACERS - 1), (name, outcomes[name])
            winner = next(d for _, o, d in outcomes[name] if o == "created")
            assert stored[name] == winner
