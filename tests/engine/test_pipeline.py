"""The decoupled pipeline (engine/pipeline.py) through whole runs: a real OpenAI-protocol server,
real subprocess evaluations, a real SQLite file. Structure is checked, never speed: a barrier in
the model server answers only once N requests are in flight at once, and while it holds them the
run must go on evaluating (zero-cost operators fill the idle evaluation slots)."""
from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

import evoforge
from evoforge.config import load_config
from evoforge.engine.pipeline import model_concurrency
from evoforge.errors import ConfigError
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import increment_responder, write_task

PATIENCE_S = 300  # a deadline for a shared, slow machine: never a speed requirement


def _evaluated_operators(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM attempts WHERE model IS NULL AND mutation != 'initial' "
                               "AND status NOT IN ('pending', 'duplicate')").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def _stored(result):
    s = open_storage(result.storage_url, read_only=True)
    try:
        return s.attempts(result.run_id), s.usage_totals(result.run_id)
    finally:
        s.close()


@pytest.mark.parametrize("workers", [2, 4])
def test_workers_model_calls_in_flight_while_evaluations_run(value_task, tmp_path, workers):
    """--workers N with the default llm.concurrency: N requests are in flight at once (the barrier
    opens), and while the server holds all N, operator proposals are evaluated."""
    run_dir = tmp_path / "run"
    barrier = threading.Barrier(workers, timeout=PATIENCE_S)
    seen = {"first_wave": 0, "evaluated_while_held": 0, "broken": False}
    lock = threading.Lock()

    def responder(request: dict) -> str:
        with lock:
            first = seen["first_wave"] < workers
            seen["first_wave"] += 1
        if first:
            try:
                if barrier.wait() == 0:  # all N in flight: now evaluations must go on without the model
                    before = _evaluated_operators(run_dir / "run.db")
                    deadline = time.monotonic() + PATIENCE_S
                    while _evaluated_operators(run_dir / "run.db") < before + 2 and time.monotonic() < deadline:
                        time.sleep(0.02)
                    seen["evaluated_while_held"] = _evaluated_operators(run_dir / "run.db") - before
                barrier.wait()  # hold all N until that was seen
            except threading.BrokenBarrierError:
                seen["broken"] = True
        return increment_responder(request)

    with ScriptedOpenAIServer(responder=responder) as srv:
        result = evoforge.run(value_task, llm=f"openai/scripted@{srv.base_url}", budget=workers + 2,
                              workers=workers, run_dir=run_dir,
                              overrides={"mutation.weights": {"diff": 1.0, "perturb": 1.0},
                                         "mutation.diff_retries": 0, "budget.proposals": 200})
        max_concurrent = srv.max_concurrent
    attempts, usage = _stored(result)
    assert not seen["broken"], "the model never had N requests in flight at once"
    assert max_concurrent == workers  # never more than llm.concurrency (= workers by default)
    assert seen["evaluated_while_held"] >= 2
    assert usage["calls"] == workers + 2  # the model-call budget is exact under concurrency
    assert all(a.status.value != "pending" for a in attempts)
    indexes = [a.proposal_index for a in attempts]
    assert len(indexes) == len(set(indexes))


def test_explicit_concurrency_bounds_requests_in_flight(value_task, tmp_path):
    """llm.concurrency=2 with 3 workers: 2 requests in flight at once, never 3."""
    barrier = threading.Barrier(2, timeout=PATIENCE_S)
    broken = []

    def responder(request: dict) -> str:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            broken.append(True)
        return increment_responder(request)

    with ScriptedOpenAIServer(responder=responder) as srv:
        evoforge.run(value_task, llm=f"openai/scripted@{srv.base_url}", budget=6, workers=3,
                     run_dir=tmp_path / "r", overrides={"llm.concurrency": 2, "mutation.weights": {"diff": 1.0},
                                                        "mutation.diff_retries": 0})
        assert srv.max_concurrent == 2 and len(srv.requests) == 6
    assert not broken


def test_one_worker_is_lockstep_and_reproducible(value_task, tmp_path):
    """One worker and one request in flight: ask → evaluate → tell in turn, so the same seed
    proposes the same programs (operators and model edits alike)."""
    runs = []
    for name in ("a", "b"):
        with ScriptedOpenAIServer(responder=increment_responder) as srv:
            result = evoforge.run(value_task, llm=f"openai/scripted@{srv.base_url}", budget=5, seed=3,
                                  run_dir=tmp_path / name, overrides={"budget.proposals": 12,
                                                                       "mutation.weights": {"diff": 1.0, "perturb": 1.0}})
            assert srv.max_concurrent == 1
        attempts, _ = _stored(result)
        runs.append([(a.proposal_index, a.mutation, a.status.value, a.code, a.score) for a in attempts])
    assert runs[0] == runs[1]
    assert {m for _, m, *_ in runs[0]} - {"initial", "diff", "tweak", "full", "crossover"}  # operators ran too


def _spend(result):
    s = open_storage(result.storage_url, read_only=True)
    try:
        return s.llm_calls(result.run_id), s.usage_totals(result.run_id)
    finally:
        s.close()


def test_cost_budget_under_concurrency_overshoots_no_more_than_one_call(value_task, tmp_path):
    """Four calls in flight never spend past the budget together: the run stops where calls made
    one at a time would (the last call starts while the spend is below the budget)."""
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        result = evoforge.run(value_task, llm=f"openai/scripted@{srv.base_url}", workers=4, run_dir=tmp_path / "r",
                              overrides={"budget.llm_calls": None, "budget.max_cost_usd": 0.002,
                                         "llm.prices": {"scripted": [1.0, 1.0]},
                                         "mutation.weights": {"diff": 1.0}, "mutation.diff_retries": 0})
    calls, usage = _spend(result)
    assert "cost budget" in result.stop_reason
    assert usage["calls"] >= 2 and len(calls) == usage["calls"]
    assert usage["cost_usd"] - max(c.cost_usd for c in calls) < 0.002


def test_token_budget_under_concurrency_overshoots_no_more_than_one_call(value_task, tmp_path):
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        result = evoforge.run(value_task, llm=f"openai/scripted@{srv.base_url}", workers=4, run_dir=tmp_path / "r",
                              overrides={"budget.llm_calls": None, "budget.max_tokens": 2000,
                                         "mutation.weights": {"diff": 1.0}, "mutation.diff_retries": 0})
    calls, usage = _spend(result)
    assert "token budget" in result.stop_reason
    tokens = usage["input_tokens"] + usage["output_tokens"]
    assert tokens - max(c.input_tokens + c.output_tokens for c in calls) < 2000


def test_model_concurrency_defaults():
    """Hosted models follow evaluator.workers unless llm.concurrency is set; in-process models get 1."""
    notes: list[str] = []
    assert model_concurrency("openai/gpt-4.1-mini", None, 4) == 4
    assert model_concurrency("openai/gpt-4.1-mini", 2, 4) == 2
    assert model_concurrency("ollama/qwen@http://h:1/v1", None, 1) == 1
    assert model_concurrency("embedded", None, 8) == 1
    assert model_concurrency("local/m.gguf", 4, 4, notes.append) == 1
    assert notes and "one request at a time" in notes[0]


def test_new_config_keys_are_validated():
    cfg = load_config({})
    assert cfg.llm.concurrency is None and cfg.mutation.fill_idle is True
    assert load_config({"llm": {"concurrency": 3}, "mutation": {"fill_idle": False}}).llm.concurrency == 3
    with pytest.raises(ConfigError, match="llm.concurrency"):
        load_config({"llm": {"concurrency": 0}})
    with pytest.raises(ConfigError, match="fill_idle"):
        load_config({"mutation": {"fill_idle": "yes"}})
    with pytest.raises(ConfigError, match="did you mean 'fill_idle'"):
        load_config({"mutation": {"fill_idel": True}})


def test_fill_idle_off_makes_no_operator_proposals_beyond_the_weights(value_task, tmp_path):
    """mutation.fill_idle: false with model edits only: every proposal is a model edit."""
    with ScriptedOpenAIServer(responder=increment_responder) as srv:
        result = evoforge.run(value_task, llm=f"openai/scripted@{srv.base_url}", budget=6, workers=3,
                              run_dir=tmp_path / "r",
                              overrides={"mutation.fill_idle": False, "mutation.weights": {"diff": 1.0}})
    attempts, usage = _stored(result)
    assert usage["calls"] == 6
    assert all(a.model for a in attempts if a.mutation != "initial")


def test_model_edits_start_while_the_initial_program_is_evaluated(tmp_path):
    """Not lockstep: a proposer asks the model for an edit of the initial program before that
    program's evaluation ends. The initial evaluation waits for the model server to have received a
    request (a file the responder writes): with no overlap it would wait until its patience ran out
    and say so in its metrics."""
    flag = tmp_path / "model-was-asked"
    evaluate = f'''\
import os, time
from evoforge import Candidate, Result


def evaluate(candidate: Candidate) -> Result:
    v = candidate.call("value", timeout=10)
    overlapped = None
    if v == 1.0:  # the initial program: hold its evaluation until the model has a request
        deadline = time.monotonic() + {PATIENCE_S}
        while not os.path.exists({str(flag)!r}) and time.monotonic() < deadline:
            time.sleep(0.02)
        overlapped = os.path.exists({str(flag)!r})
    return Result(score=float(v), metrics={{"overlapped": overlapped}})
'''
    task = write_task(tmp_path / "task", evaluate=evaluate)

    def responder(request: dict) -> str:
        flag.touch()
        return increment_responder(request)

    with ScriptedOpenAIServer(responder=responder) as srv:
        result = evoforge.run(task, llm=f"openai/scripted@{srv.base_url}", budget=4, workers=2,
                              run_dir=tmp_path / "run", overrides={"mutation.weights": {"diff": 1.0}})
    attempts, usage = _stored(result)
    initial = next(a for a in attempts if a.mutation == "initial")
    assert initial.status.value == "ok" and initial.metrics["overlapped"] is True
    children = [a for a in attempts if a.parent_id == initial.id and a.model]
    assert children and all(a.status.value != "pending" for a in attempts)
    # proposed before the parent had a score, and still judged against it once it had one
    assert any(a.metrics.get("improved_parent") is True for a in children)
    assert usage["calls"] == 4
