"""Compute inflation as a safety signal (issue 15, part 3): a child that improves while using
far more CPU than its parent is flagged for `evoforge audit`, and its own children's prompts say
where its gain came from. A real run against a scripted model; the CPU figures are the sandbox's.
"""
from __future__ import annotations

import json

import pytest

import evoforge
from evoforge.cli import main
from evoforge.program import AttemptStatus
from evoforge.safety.compute import MIN_CPU_GROWTH_S, compute_inflation
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.tasks import write_task

# The score is 1 + SPIN + BONUS; SPIN seconds of CPU are burned (by the process's own clock,
# whatever the machine's load) to get there: raising SPIN buys score with compute alone.
INITIAL = '''\
import time


# EVOLVE-BLOCK-START
def solve():
    SPIN = 0.0
    BONUS = 0.0
    while time.process_time() < SPIN:
        pass
    return 1.0 + SPIN + BONUS
# EVOLVE-BLOCK-END
'''
EVALUATE = '''\
from evoforge import Result


def evaluate(candidate):
    return Result(score=float(candidate.call("solve", timeout=600)), feedback="ran solve()")
'''


def edit(name: str, old: str, new: str) -> str:
    return f"<<<<<<< SEARCH\n    {name} = {old}\n=======\n    {name} = {new}\n>>>>>>> REPLACE\n"


@pytest.fixture(scope="module")
def inflated_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("inflation")
    task = write_task(root / "task", initial=INITIAL, evaluate=EVALUATE,
                      yaml="name: spin\ndescription: Make solve() return more.\n")
    script = [
        edit("BONUS", "0.0", "0.5"),   # an honest gain: same CPU as its parent
        edit("SPIN", "0.0", "2.0"),    # a gain bought with ~2 s of CPU against a parent's ~0.05 s
        edit("BONUS", "0.5", "0.6"),   # a child of the inflated program: its prompt carries the note
    ]
    with ScriptedOpenAIServer(script) as srv:
        result = evoforge.run(task, llm=f"openai/s@{srv.base_url}", budget=len(script), run_dir=root / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.islands": 1,
                                         "search.parent_selection": "best"})
        prompts = ["\n".join(m.get("content") or "" for m in r["messages"]) for r in srv.requests]
    store = open_storage(result.storage_url, read_only=True)
    try:
        attempts = sorted(store.attempts(result.run_id), key=lambda a: a.proposal_index)
        events = store.events(result.run_id, "alert")
    finally:
        store.close()
    return root / "r", attempts, events, prompts


def test_the_inflated_gain_is_flagged_and_the_honest_one_is_not(inflated_run):
    _, attempts, events, _ = inflated_run
    initial, honest, inflated, grandchild = attempts
    assert all(a.status is AttemptStatus.OK for a in attempts), [a.reason for a in attempts]
    assert inflated.parent_id == honest.id and inflated.score > honest.score
    flag = inflated.metrics["compute_inflation"]
    # its own clock read 2 s (the slack: /proc sampling, where neither a cgroup nor wait4 sees it)
    assert flag["cpu_s"] == inflated.metrics["compute"]["cpu_s"] >= 1.8
    assert flag["parent_cpu_s"] == honest.metrics["compute"]["cpu_s"]
    assert flag["ratio"] > 10 and flag["threshold"] == 10.0               # the default factor
    assert "compute_inflation" not in honest.metrics and "compute_inflation" not in grandchild.metrics
    # flagged, not quarantined: the program stays selectable, the alert is for a human
    assert [e["payload"]["id"] for e in events if e["payload"]["kind"] == "compute_inflation"] == [inflated.id]
    message = events[-1]["payload"]["message"]
    assert f"program {inflated.id} improved on its parent with" in message and "more CPU (" in message


def test_the_childs_prompt_says_where_the_gain_came_from(inflated_run):
    _, attempts, _, prompts = inflated_run
    inflated, grandchild = attempts[2], attempts[3]
    assert grandchild.parent_id == inflated.id
    note = inflated.metrics["compute_inflation"]["note"]
    assert note.startswith("Compute warning: your gain came from ") and "× more CPU (" in note and " → " in note
    assert note in prompts[2] and "ran solve()" in prompts[2]      # the note, then the evaluator's feedback
    assert "Compute warning" not in prompts[0] + prompts[1]


def test_audit_lists_the_flag(inflated_run, capsys):
    run_dir, attempts, _, _ = inflated_run
    assert main(["audit", str(run_dir)]) == 0
    out = capsys.readouterr().out
    assert "alert (compute_inflation): program " + attempts[2].id in out
    assert main(["audit", str(run_dir), "--json"]) == 0
    alerts = json.loads(capsys.readouterr().out)["alerts"]
    assert any(a["kind"] == "compute_inflation" and a["id"] == attempts[2].id for a in alerts)


def test_the_factor_is_configurable_and_null_turns_the_check_off(tmp_path):
    task = write_task(tmp_path / "task", initial=INITIAL, evaluate=EVALUATE, yaml="name: spin\n")
    with ScriptedOpenAIServer([edit("SPIN", "0.0", "0.5")]) as srv:
        result = evoforge.run(task, llm=f"openai/s@{srv.base_url}", budget=1, run_dir=tmp_path / "r",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.islands": 1,
                                         "safety.compute_inflation_factor": None})
    store = open_storage(result.storage_url, read_only=True)
    try:
        child = [a for a in store.attempts(result.run_id) if a.mutation != "initial"][0]
        assert child.status is AttemptStatus.OK and child.metrics["compute"]["cpu_s"] >= 0.4
        assert "compute_inflation" not in child.metrics and not store.events(result.run_id, "alert")
    finally:
        store.close()


@pytest.mark.parametrize("cpu, parent, threshold, flagged", [
    (21.0, 0.002, 10.0, True),
    (0.5, 0.04, 10.0, True),
    (0.3, 0.04, 10.0, False),            # 7.5x: under the factor
    (0.05, 0.001, 10.0, False),          # 50x, but 0.049 s of growth is start-up noise
    (0.04 + MIN_CPU_GROWTH_S, 0.04, 2.0, True),
    (5.0, 0.0, 10.0, False),             # the parent's CPU is unknown: cannot tell
    (21.0, 0.002, None, False),          # the check is off
])
def test_the_rule(cpu, parent, threshold, flagged):
    flag = compute_inflation(cpu, parent, threshold)
    assert (flag is not None) is flagged
    if flag is not None:
        assert flag.ratio == pytest.approx(cpu / parent)


def test_the_wording_of_the_note():
    flag = compute_inflation(21.0, 0.0021, 10.0)
    assert flag.note().startswith("Compute warning: your gain came from 10,000× more CPU (0.0021 s → 21 s)")
