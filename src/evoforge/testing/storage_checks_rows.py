"""Storage conformance checks, part 1: what is written comes back (runs, attempts, fingerprints,
model calls, state, events), with the same values and order on every backend."""
from __future__ import annotations

import math
from typing import Any

import pytest

from evoforge.errors import StorageError
from evoforge.program import Attempt, AttemptStatus, LLMCallRecord
from evoforge.storage import Storage
from evoforge.storage.fingerprints import EVALUATED_STATUSES

SIG = bytes(range(256)) * 2  # a MinHash signature: 64 uint64 slots


def attempt(run_id: str, i: int, score: float | None = None, status: AttemptStatus = AttemptStatus.OK,
            **kw: Any) -> Attempt:
    """A small attempt with distinct code per `i`."""
    return Attempt(run_id=run_id, code=f"x = {i}\n", status=status, score=score, proposal_index=i, **kw)


class RowChecks:
    """Mixed into `storage_suite.StorageTestCase` (its `storage` and `open` fixtures)."""

    def test_is_a_storage(self, storage: Storage) -> None:
        assert isinstance(storage, Storage)

    def test_runs_roundtrip(self, storage: Storage) -> None:
        info = storage.create_run("r1", {"a": 1}, "/tmp/task", meta={"m": 2})
        got = storage.get_run("r1")
        assert got is not None and got.id == info.id and got.config == {"a": 1} and got.meta == {"m": 2}
        assert got.task_path == "/tmp/task" and got.created_at == pytest.approx(info.created_at)
        assert storage.get_run(info.id).name == "r1"
        assert storage.get_run("missing") is None
        assert [r.name for r in storage.list_runs()] == ["r1"]
        with pytest.raises(StorageError, match="already exists"):
            storage.create_run("r1", {}, "/tmp")
        assert [r.id for r in storage.list_runs()] == [info.id]
        storage.update_run_meta(info.id, {"x": True})
        assert storage.get_run("r1").meta == {"x": True}

    def test_attempt_roundtrip_keeps_everything(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        a = attempt(run.id, 3, 1.5, parent_id="p", inspiration_ids=["i1", "i2"], island=1, generation=2,
                    mutation="diff", model="m", metrics={"k": 1.0, "s": "text"}, feedback="fb", prompt="P",
                    response="R", stdout="out", stderr="err", input_tokens=10, output_tokens=20, private_score=0.5,
                    eval_seconds=0.25)
        storage.save_attempt(a)
        b = storage.get_attempt(a.id)
        assert b is not None and b.to_dict() == a.to_dict()
        assert storage.get_attempt(a.id[:8]).id == a.id  # a unique prefix, as git allows
        assert storage.get_attempt("nope") is None
        assert storage.attempts(run.id)[0].to_dict() == a.to_dict()

    def test_failed_attempts_are_kept_with_reason(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        storage.save_attempt(Attempt(run_id=run.id, code=None, status=AttemptStatus.PARSE_FAILED, reason="no edit",
                                     proposal_index=1))
        rows = storage.attempts(run.id)
        assert rows[0].status is AttemptStatus.PARSE_FAILED and rows[0].reason == "no edit" and rows[0].code is None
        assert storage.count_attempts(run.id, AttemptStatus.PARSE_FAILED) == 1

    def test_non_finite_scores_are_no_scores(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        for i, bad in enumerate((float("nan"), float("inf"), float("-inf"))):
            storage.save_attempt(attempt(run.id, i, bad, private_score=bad, metrics={"bad": bad}))
        assert all(a.score is None and a.private_score is None for a in storage.attempts(run.id))
        assert storage.best_attempts(run.id, 5) == []

    def test_best_and_filters(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        for i, s in enumerate([1.0, 3.0, 2.0]):
            storage.save_attempt(attempt(run.id, i, s, island=i % 2))
        storage.save_attempt(attempt(run.id, 9, None, status=AttemptStatus.ERROR))
        assert [a.score for a in storage.best_attempts(run.id, 2)] == [3.0, 2.0]
        assert storage.best_attempts(run.id, 1, maximize=False)[0].score == 1.0
        assert storage.best_attempts(run.id, 5, island=0)[0].score == 2.0
        assert storage.count_attempts(run.id) == 4
        assert len(storage.attempts(run.id, status=AttemptStatus.OK)) == 3
        assert [a.proposal_index for a in storage.attempts(run.id, island=1)] == [1]
        light = storage.attempts(run.id, with_code=False)
        assert all(a.code is None and a.prompt == "" for a in light) and len(light) == 4
        assert [a.proposal_index for a in storage.attempts(run.id, since_index=2)] == [2, 9]
        assert [a.proposal_index for a in storage.attempts(run.id, limit=2)] == [0, 1]

    def test_ties_break_by_proposal_order(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        for i in (5, 2, 7):
            storage.save_attempt(attempt(run.id, i, 1.0))
        assert [a.proposal_index for a in storage.best_attempts(run.id, 3)] == [2, 5, 7]
        assert [a.proposal_index for a in storage.attempts(run.id)] == [2, 5, 7]

    def test_find_by_hash(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        a = attempt(run.id, 1, 1.0)
        storage.save_attempt(a)
        assert storage.find_by_hash(run.id, a.code_hash).id == a.id
        assert storage.find_by_hash(run.id, "0" * 32) is None

    def test_find_by_hash_ignores_pending_and_duplicates_and_finds_the_earliest(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        pending = attempt(run.id, 1, None, status=AttemptStatus.PENDING)
        dup = attempt(run.id, 1, None, status=AttemptStatus.DUPLICATE)
        storage.save_attempt(pending)
        storage.save_attempt(dup)
        assert storage.find_by_hash(run.id, pending.code_hash) is None
        later = Attempt(run_id=run.id, code=pending.code, status=AttemptStatus.OK, score=1.0, proposal_index=9)
        failed = Attempt(run_id=run.id, code=pending.code, status=AttemptStatus.ERROR, proposal_index=5)
        storage.save_attempt(later)
        storage.save_attempt(failed)
        assert storage.find_by_hash(run.id, pending.code_hash).id == failed.id

    def test_ambiguous_or_wildcard_prefix_finds_nothing(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        for suffix in ("a", "b"):
            storage.save_attempt(Attempt(run_id=run.id, code="x", id="abcd" + suffix * 12, status=AttemptStatus.OK))
        assert storage.get_attempt("abcd") is None
        assert storage.get_attempt("abcdb").id == "abcd" + "b" * 12
        assert storage.get_attempt("%") is None and storage.get_attempt("abcd_b") is None
        assert storage.get_attempt("ABCDB") is None   # ids are case-sensitive on every backend

    def test_saving_again_updates_in_place(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        a = attempt(run.id, 1, None, status=AttemptStatus.PENDING)
        storage.save_attempt(a)
        a.status, a.score, a.feedback = AttemptStatus.OK, 2.0, "done"
        storage.save_attempt(a)
        assert storage.count_attempts(run.id) == 1
        b = storage.get_attempt(a.id)
        assert b.status is AttemptStatus.OK and b.score == 2.0 and b.feedback == "done"

    def test_runs_are_separate(self, storage: Storage) -> None:
        r1 = storage.create_run("a", {}, "/t")
        r2 = storage.create_run("b", {}, "/t")
        storage.save_attempt(attempt(r1.id, 1, 1.0))
        storage.set_state(r1.id, "k", 1)
        storage.add_event(r1.id, "x", {})
        assert storage.count_attempts(r2.id) == 0 and storage.best_attempts(r2.id) == []
        assert storage.get_state(r2.id, "k") is None and storage.events(r2.id) == []

    def test_odd_text_survives(self, storage: Storage) -> None:
        """Candidate output may hold NUL bytes (PostgreSQL TEXT cannot: they become U+FFFD),
        non-ASCII text and very long lines; a write must never fail because of them."""
        run = storage.create_run("r", {"é": "✓"}, "/t")
        a = attempt(run.id, 1, 1.0, stdout="a\x00b ünïcödé ✓", stderr="x" * 200_000, metrics={"nan": float("nan")})
        storage.save_attempt(a)
        b = storage.get_attempt(a.id)
        assert b.stdout.replace("\ufffd", "\x00") == a.stdout and len(b.stderr) == 200_000
        assert storage.get_run("r").config == {"é": "✓"}
        assert math.isnan(b.metrics["nan"])

    # -- fingerprints (schema version 2) ----------------------------------------------------------
    def test_fingerprint_is_stored_with_the_attempt_and_found_by_ast_hash(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        a = attempt(run.id, 1, 1.0)
        storage.save_attempt(a, ("h1", SIG))
        rows = storage.fingerprints(run.id, EVALUATED_STATUSES)
        assert [(r.id, r.ast_hash, r.minhash, r.has_code) for r in rows] == [(a.id, "h1", SIG, True)]
        assert storage.find_by_ast_hash(run.id, "h1", EVALUATED_STATUSES) == a.id
        assert storage.find_by_ast_hash(run.id, "other", EVALUATED_STATUSES) is None
        assert storage.find_by_ast_hash(run.id, "h1", ("error",)) is None   # only the statuses asked for
        assert storage.get_attempt(a.id).to_dict() == a.to_dict()           # the Attempt itself is unchanged

    def test_resave_keeps_the_fingerprint_unless_the_code_changes(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        a = attempt(run.id, 1, 1.0)
        storage.save_attempt(a, ("h1", SIG))
        a.feedback = "re-saved without a fingerprint"
        storage.save_attempt(a)
        assert storage.fingerprints(run.id, ("ok",))[0].ast_hash == "h1"
        a.code = "y = 2\n"
        storage.save_attempt(a)
        assert storage.fingerprints(run.id, ("ok",))[0].ast_hash is None

    def test_programs_only_codes_and_backfill(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        ok, no_score = attempt(run.id, 1, 1.0), attempt(run.id, 2, None)
        failed = Attempt(run_id=run.id, code="z = 3\n", status=AttemptStatus.ERROR, proposal_index=3)
        for a in (ok, no_score, failed):
            storage.save_attempt(a)
        assert [r.id for r in storage.fingerprints(run.id, ("ok",), programs_only=True)] == [ok.id]
        assert all(r.ast_hash is None for r in storage.fingerprints(run.id, EVALUATED_STATUSES))
        assert storage.codes([ok.id, failed.id, "missing"]) == {ok.id: ok.code, failed.id: failed.code}
        storage.set_fingerprints([(ok.id, "a", SIG), (failed.id, "b", None)])
        got = {r.id: (r.ast_hash, r.minhash) for r in storage.fingerprints(run.id, EVALUATED_STATUSES)}
        assert got[ok.id] == ("a", SIG) and got[failed.id] == ("b", None) and got[no_score.id] == (None, None)
        assert storage.find_by_ast_hash(run.id, "b", EVALUATED_STATUSES) == failed.id

    def test_restore_rows_are_the_light_columns_in_order(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        for i in (2, 0, 1):
            storage.save_attempt(attempt(run.id, i, float(i), parent_id="p", island=i, metrics={"c": i}))
        rows = storage.restore_rows(run.id)
        assert [r.proposal_index for r in rows] == [0, 1, 2]
        assert [(r.island, r.score, r.status, r.parent_id, r.metrics) for r in rows][2] == (
            2, 2.0, AttemptStatus.OK, "p", {"c": 2})

    # -- model calls, state, events --------------------------------------------------------------
    def test_llm_usage_totals(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        assert storage.usage_totals(run.id) == {"calls": 0, "input_tokens": 0, "output_tokens": 0,
                                                "reasoning_tokens": 0, "cost_usd": 0.0}
        storage.add_llm_call(LLMCallRecord(run_id=run.id, model="m", input_tokens=5, output_tokens=7, cost_usd=0.5))
        storage.add_llm_call(LLMCallRecord(run_id=run.id, model="m", error="rate_limit"))
        t = storage.usage_totals(run.id)
        assert t["calls"] == 2 and t["input_tokens"] == 5 and t["output_tokens"] == 7
        assert math.isclose(t["cost_usd"], 0.5) and isinstance(t["cost_usd"], float) and isinstance(t["calls"], int)
        calls = storage.llm_calls(run.id)
        assert [c.error for c in calls] == ["", "rate_limit"] and calls[0].input_tokens == 5

    def test_state_and_events(self, storage: Storage) -> None:
        run = storage.create_run("r", {}, "/t")
        assert storage.get_state(run.id, "k", 7) == 7
        storage.set_state(run.id, "k", {"a": [1, 2]})
        assert storage.get_state(run.id, "k") == {"a": [1, 2]}
        storage.set_state(run.id, "k", 2)
        assert storage.get_state(run.id, "k") == 2
        storage.add_event(run.id, "new_best", {"score": 1})
        storage.add_event(run.id, "other", {})
        assert [e["kind"] for e in storage.events(run.id)] == ["new_best", "other"]
        assert storage.events(run.id, "new_best")[0]["payload"] == {"score": 1}

    def test_read_only_handle_reads_but_refuses_writes(self, storage: Storage, open_url: Any) -> None:
        run = storage.create_run("r", {}, "/t")
        storage.save_attempt(attempt(run.id, 1, 1.0))
        ro = open_url(storage.url, read_only=True)
        assert ro.get_run("r").id == run.id and ro.count_attempts(run.id) == 1
        for write in (lambda: ro.save_attempt(attempt(run.id, 2, 2.0)), lambda: ro.set_state(run.id, "k", 1),
                      lambda: ro.create_run("other", {}, "/t")):
            with pytest.raises(StorageError, match="read-only"):
                write()
        assert storage.count_attempts(run.id) == 1 and storage.get_run("other") is None
