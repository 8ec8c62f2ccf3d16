"""Safety checks inside real runs: bounds, quarantine of implausible jumps, audit, stages,
integrity, lint flags, re-evaluation of elites."""
from __future__ import annotations

import json

import evoforge
from evoforge.cli import main
from evoforge.program import AttemptStatus
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import write_task

DIFF = {"mutation.weights": {"diff": 1.0}}


def edit(old, new):
    return f"<<<<<<< SEARCH\n    VALUE = {old}\n=======\n    VALUE = {new}\n>>>>>>> REPLACE\n"


def _all(result):
    s = open_storage(result.storage_url, read_only=True)
    try:
        return s.attempts(result.run_id), s.events(result.run_id)
    finally:
        s.close()


def test_declared_upper_bound_rejects_impossible_scores(value_task, tmp_path):
    with ScriptedOpenAIServer([edit("1.0", "500.0"), edit("1.0", "2.0")]) as srv:
        result = evoforge.run(value_task, llm=f"openai/s@{srv.base_url}", budget=2, run_dir=tmp_path / "r",
                              overrides={**DIFF, "evaluator.score_bounds": [None, 100.0]})
    attempts, _ = _all(result)
    rejected = [a for a in attempts if "upper bound" in a.reason]
    assert len(rejected) == 1 and rejected[0].status is AttemptStatus.INVALID and rejected[0].score is None
    assert result.best.score == 2.0


def test_implausible_jump_is_quarantined_and_audited(value_task, tmp_path, capsys):
    steps = ["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"]
    script = [edit(a, b) for a, b in zip(steps, steps[1:])] + [edit("1.5", "999.0")]
    with ScriptedOpenAIServer(script) as srv:
        result = evoforge.run(value_task, llm=f"openai/s@{srv.base_url}", budget=len(script), run_dir=tmp_path / "r",
                              overrides={**DIFF, "search.parent_selection": "best", "safety.min_history": 4,
                                         "search.islands": 1})
    attempts, events = _all(result)
    q = [a for a in attempts if a.status is AttemptStatus.QUARANTINED]
    assert len(q) == 1 and "held for audit" in q[0].reason
    assert result.best.score < 2 and any(e["kind"] == "quarantine" for e in events)
    run_dir = str(tmp_path / "r")
    assert main(["audit", run_dir]) == 0
    assert q[0].id in capsys.readouterr().out
    assert main(["audit", run_dir, "--release", q[0].id]) == 0
    capsys.readouterr()
    assert main(["best", run_dir, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["score"] == 999.0


def test_cascade_stops_bad_programs_early(tmp_path):
    evaluate = '''
from evoforge import Candidate, Result

def evaluate(candidate, stage="full"):
    v = candidate.call("value", timeout=10)
    if stage == "quick":
        return Result(score=float(v), metrics={"quick": 1})
    return Result(score=float(v) * 10, metrics={"full": 1})
'''
    task = write_task(tmp_path / "t", evaluate=evaluate,
                      yaml="name: t\nevaluator:\n  stages:\n    - {name: quick, args: {stage: quick}, threshold: 0.8}\n"
                           "    - {name: full, args: {stage: full}}\n")
    with ScriptedOpenAIServer([edit("1.0", "0.5"), edit("1.0", "2.0")]) as srv:
        result = evoforge.run(task, llm=f"openai/s@{srv.base_url}", budget=2, run_dir=tmp_path / "r",
                              overrides={**DIFF, "search.islands": 1, "search.parent_selection": "best"})
    attempts, _ = _all(result)
    initial, low, high = attempts
    assert initial.status is AttemptStatus.OK and initial.score == 10.0
    assert low.status is AttemptStatus.INVALID and "stopped at stage 'quick'" in low.reason
    assert high.status is AttemptStatus.OK and high.score == 20.0 and high.metrics["stage_quick_score"] == 2.0


def test_changed_evaluator_stops_the_run(value_task, tmp_path):
    run_dir = tmp_path / "r"
    asked = []

    def tampering_responder(request):
        # the model's third call happens mid-run, whatever the machine's speed: tamper then
        asked.append(request)
        if len(asked) == 3:
            with open(run_dir / "task" / "evaluate.py", "a") as fh:
                fh.write("\n# tampered\n")
        return edit("1.0", "2.0")

    with ScriptedOpenAIServer(responder=tampering_responder) as srv:
        result = evoforge.run(value_task, llm=f"openai/s@{srv.base_url}", budget=30, run_dir=run_dir, overrides=DIFF)
    # found however fast the run went (the throttled per-proposal check may not see it in time,
    # and duplicate proposals are never evaluated, so the last exact check is at the run's end)
    assert "integrity" in result.stop_reason and "evaluate.py" in result.stop_reason
    _, events = _all(result)
    assert any(e["kind"] == "alert" and e["payload"]["kind"] == "integrity" for e in events)
    code = main(["resume", str(run_dir), "--quiet"])
    assert code == 2  # the snapshot no longer matches: refuse to mix scores


def test_lint_flags_and_blocks(value_task, tmp_path):
    cheat = ("<<<<<<< SEARCH\n    VALUE = 1.0\n=======\n    import os\n    VALUE = 2.0 + len(os.environ.get('X', ''))\n"
             ">>>>>>> REPLACE\n")
    with ScriptedOpenAIServer([cheat]) as srv:
        flagged = evoforge.run(value_task, llm=f"openai/s@{srv.base_url}", budget=1, run_dir=tmp_path / "a", overrides=DIFF)
    a = _all(flagged)[0][1]
    assert a.status is AttemptStatus.OK and any("environment" in x for x in a.metrics["lint"])
    with ScriptedOpenAIServer([cheat]) as srv:
        blocked = evoforge.run(value_task, llm=f"openai/s@{srv.base_url}", budget=1, run_dir=tmp_path / "b",
                               overrides={**DIFF, "safety.lint": "block"})
    b = _all(blocked)[0][1]
    assert b.status is AttemptStatus.INVALID and "safety lint" in b.reason


def test_elites_reevaluated_on_fresh_seeds(tmp_path):
    evaluate = '''
from evoforge import Candidate, Result

def evaluate(candidate, seed=0):
    v = candidate.call("value", timeout=10)
    if seed > 1000 and v > 2.5:   # overfits: worse on unseen seeds
        return Result(score=0.1)
    return Result(score=float(v))
'''
    task = write_task(tmp_path / "t", evaluate=evaluate)
    with ScriptedOpenAIServer([edit("1.0", "2.0"), edit("2.0", "3.0")]) as srv:
        result = evoforge.run(task, llm=f"openai/s@{srv.base_url}", budget=2, run_dir=tmp_path / "r",
                              overrides={**DIFF, "evaluator.reevaluate_top": 3, "search.islands": 1,
                                         "search.parent_selection": "best"})
    attempts, events = _all(result)
    assert result.best.score == 2.0  # the 3.0 program collapsed on fresh seeds
    assert any(e["kind"] == "alert" and e["payload"]["kind"] == "reevaluation" for e in events)
    assert all("reeval_score" in a.metrics for a in attempts if a.status is AttemptStatus.OK)
