"""Resuming a run reads stored fingerprints instead of recomputing them (counted structurally:
`NoveltyFilter.computed`), computes them once for a database that lacks them, and still rejects
duplicates of programs stored before the resume."""
from __future__ import annotations

import random

import pytest

from evoforge.engine.core import Engine
from evoforge.program import Attempt, AttemptStatus
from evoforge.sandbox import Evaluation, Result
from evoforge.storage import open_storage
from evoforge.task import load_task


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'run.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")


def _engine(value_task, url):
    task = load_task(value_task, {"mutation.weights": {"perturb": 1.0}, "budget.llm_calls": None,
                                  "budget.proposals": None, "evaluator.workers": 1})
    store = open_storage(url)
    run = store.get_run("r") or store.create_run("r", task.config.to_dict(), str(task.path))
    return Engine(task, store, run, {}), store


def _propose(engine, n, seed=0):
    rng = random.Random(seed)
    for _ in range(n):
        p = engine.ask()
        if p is not None and p.needs_evaluation:
            engine.tell(p, Evaluation("ok", result=Result(score=rng.uniform(0, 100), feedback="")))


def _programs(store, run_id):
    return [a for a in store.attempts(run_id, status=AttemptStatus.OK) if a.score is not None]


def test_resume_reads_signatures_and_still_rejects_duplicates(value_task, url):
    engine, store = _engine(value_task, url)
    _propose(engine, 12)
    programs = _programs(store, engine.run.id)
    assert len(programs) >= 5
    store.close()

    engine, store = _engine(value_task, url)
    assert engine.novelty.computed == 0                 # nothing re-hashed on resume
    assert len(engine.novelty) == len(programs)
    old = programs[-1]
    assert engine.novelty.most_similar(old.code) == (old.id, 1.0)
    # the same program with a comment and renamed locals: a duplicate by normalized AST (a storage query)
    renamed = "# a comment\n" + old.code.replace("VALUE", "RESULT")
    twin = Attempt(run_id=engine.run.id, code=renamed, mutation="perturb", proposal_index=999)
    engine.gates.novelty_check(twin)
    assert twin.status is AttemptStatus.DUPLICATE and old.id in twin.reason
    copy = Attempt(run_id=engine.run.id, code=old.code, mutation="perturb", proposal_index=1000)
    engine.gates.novelty_check(copy)
    assert copy.status is AttemptStatus.DUPLICATE   # identical code
    _propose(engine, 3, seed=1)                      # and the run goes on
    store.close()


def test_a_database_without_fingerprints_gets_them_once(value_task, url):
    engine, store = _engine(value_task, url)
    _propose(engine, 10)
    run_id = engine.run.id
    programs = _programs(store, run_id)
    # as a database written before schema version 2 (migrated: the columns exist, empty)
    store.set_fingerprints([(a.id, None, None) for a in store.attempts(run_id)])
    assert all(r.ast_hash is None for r in store.fingerprints(run_id, ("ok",)))
    store.close()

    engine, store = _engine(value_task, url)
    assert engine.novelty.computed == len(programs)      # computed once, from the code
    assert len(engine.novelty) == len(programs)
    assert all(r.ast_hash and r.minhash for r in store.fingerprints(run_id, ("ok",), programs_only=True))
    store.close()

    engine, store = _engine(value_task, url)
    assert engine.novelty.computed == 0 and len(engine.novelty) == len(programs)   # stored the first time
    store.close()
