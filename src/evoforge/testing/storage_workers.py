"""Code the storage conformance suite runs in other processes (importable, so that
`multiprocessing`'s spawn start method and ``python -c`` can reach it): controllers that share
one database from separate processes, as they do across machines."""
from __future__ import annotations

from typing import Any

from evoforge.errors import StorageError
from evoforge.program import Attempt, AttemptStatus, LLMCallRecord
from evoforge.storage import open_storage


def race_create_run(url: str, names: list[str], barrier: Any, results: Any, worker: int) -> None:
    """For each name: wait until every racer is at the barrier, then create that run at once.
    Puts (worker, name, outcome, detail) on `results`; outcome is "created" (detail: the run
    id), "exists" (the documented refusal) or "error" (anything else: a conformance failure)."""
    store = open_storage(url)
    try:
        for name in names:
            barrier.wait(timeout=300)
            try:
                info = store.create_run(name, {"worker": worker}, "/t")
            except StorageError as exc:
                outcome = "exists" if "already exists" in str(exc) else "error"
                results.put((worker, name, outcome, str(exc)))
            except Exception as exc:  # noqa: BLE001 - reported to the parent, which fails the test
                results.put((worker, name, "error", repr(exc)))
            else:
                results.put((worker, name, "created", info.id))
    finally:
        store.close()


def write_many(url: str, run_id: str, base: int, n: int = 40) -> None:
    """One controller's writes: attempts, model calls, state and events, each its own transaction."""
    store = open_storage(url)
    try:
        for i in range(n):
            store.save_attempt(Attempt(run_id=run_id, code=f"x = {base + i}", status=AttemptStatus.OK,
                                       score=float(i), proposal_index=base + i))
            store.add_llm_call(LLMCallRecord(run_id=run_id, model="m", input_tokens=1))
            store.set_state(run_id, "shared", base + i)
            store.add_event(run_id, "tick", {"i": base + i})
    finally:
        store.close()
