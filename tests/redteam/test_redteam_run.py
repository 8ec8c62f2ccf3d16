"""Red-team candidates inside a whole `evoforge.run`: a scripted model proposes them as full
rewrites, the engine evaluates each in the sandbox, records every attempt with the right status
and reason, flags the cheating patterns with the static lint, and goes on to accept the honest
program that comes last."""
from __future__ import annotations

import re
import shutil

import pytest
from redteam_helpers import (
    CORPUS,
    SECRET_ENV,
    TASK_TEMPLATE,
    level_available,
    parse_entry,
)

import evoforge
from evoforge.program import AttemptStatus
from evoforge.sandbox import detect_isolation
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.sandbox_suite import conditions

RUN_ENTRIES = [
    "sys_exit_zero", "os_exit_zero", "fake_result_stdout", "patch_time", "operator_override",
    "return_nan", "env_api_keys", "frame_inspection", "swallow_everything", "kill_parent",
    "infinite_loop", "non_json_object", "memory_bomb", "network_connect", "spawn_shell",
    "read_hidden_data", "ptrace_parent",
]
HONEST = "def attack(ctx):\n    return 0.6\n"   # score 1 - |0.6 - 0.618...| = 0.98...
STATUS = {"ok": AttemptStatus.OK, "invalid": AttemptStatus.INVALID,
          "error": AttemptStatus.ERROR, "timeout": AttemptStatus.TIMEOUT}


def _task(root, level: str, call_timeout: float):
    task = shutil.copytree(TASK_TEMPLATE, root / "task")
    (task / "task.yaml").write_text(
        "name: redteam\n"
        "description: Return the hidden number from attack(ctx).\n"
        "evaluator:\n"
        f"  timeout: {max(20, 3 * call_timeout)}\n"
        "  memory_mb: 256\n"
        f"  isolation: {level}\n"
        "  stages:\n"
        f"    - {{name: main, args: {{call_timeout: {call_timeout}}}}}\n")
    return task


def _reply(code: str) -> str:
    return f"Here is the improved program.\n```python\n{code}\n```\n"


def _run(tmp_path, level: str, codes: list[str], call_timeout: float = 1.0):
    task = _task(tmp_path, level, call_timeout)
    with ScriptedOpenAIServer([_reply(c) for c in codes]) as srv:
        result = evoforge.run(
            task, llm=f"openai/scripted@{srv.base_url}", budget=len(codes),
            run_dir=tmp_path / "run",
            overrides={"mutation.weights": {"full": 1.0}, "search.novelty": False,
                       "search.islands": 1, "search.parent_selection": "best",
                       "llm.prices": {"scripted": [0.0, 0.0]}})
    storage = open_storage(result.storage_url, read_only=True)
    try:
        return result, storage.attempts(result.run_id)
    finally:
        storage.close()


def _rules(attempt) -> set[str]:
    return {m for line in attempt.metrics.get("lint", []) for m in re.findall(r"\[(\w+)\]", line)}


@pytest.mark.slow
def test_run_records_every_attack_and_goes_on(tmp_path, monkeypatch):
    """At the strongest level available: each attack is recorded with its corpus outcome and
    lint flags, nothing stops the run, and the honest program at the end becomes the best."""
    for key, value in SECRET_ENV.items():
        monkeypatch.setenv(key, value)
    level = detect_isolation("auto").name.lower()
    facts = conditions()
    entries = [parse_entry(CORPUS / f"{name}.py") for name in RUN_ENTRIES]
    # The attacks that must time out run with a 1 s call limit; the others get far more than
    # they need, so a loaded machine cannot turn their outcome into a timeout.
    hanging = [e for e in entries if e.expectation(level, facts).status == "timeout"]
    others = [e for e in entries if e not in hanging]
    _, hung = _run(tmp_path / "hanging", level, [e.code for e in hanging] + [HONEST])
    result, attempts = _run(tmp_path / "others", level, [e.code for e in others] + [HONEST], call_timeout=60)

    assert len(hung) == len(hanging) + 2 and len(attempts) == len(others) + 2  # initial + one per reply
    initial, *attacks, honest = attempts
    assert initial.status is AttemptStatus.OK
    problems = []
    for entry, attempt in [*zip(hanging, hung[1:-1]), *zip(others, attacks)]:
        assert attempt.mutation == "full" and attempt.code and "def attack" in attempt.code
        expect = entry.expectation(level, facts)
        if attempt.status is not STATUS[expect.status] or not re.search(expect.reason,
                                                                         attempt.reason):
            problems.append(f"{entry.name}: recorded {attempt.status.value} {attempt.reason!r}, "
                            f"expected {expect.status} /{expect.reason}/")
        if attempt.status is not AttemptStatus.OK and not attempt.reason:
            problems.append(f"{entry.name}: no reason recorded")
        missing = entry.lint - _rules(attempt)
        if missing:
            problems.append(f"{entry.name}: lint did not flag {sorted(missing)}: "
                            f"{attempt.metrics.get('lint')}")
        recorded = f"{attempt.stdout} {attempt.stderr} {attempt.feedback} {attempt.reason}"
        if any(secret in recorded for secret in SECRET_ENV.values()):
            problems.append(f"{entry.name}: an API key was recorded")
    assert not problems, "\n".join(problems)
    patched = attacks[others.index(next(e for e in others if e.name == "patch_time"))]
    assert patched.metrics["elapsed"] >= 0.4  # the evaluator's clock, not the candidate's
    assert honest.status is AttemptStatus.OK and honest.score == pytest.approx(0.9819660113)
    assert result.best is not None and result.best.id == honest.id
    assert "budget" in result.stop_reason


@pytest.mark.skipif(not level_available("none"), reason="plain level unavailable")
def test_run_goes_on_when_a_candidate_kills_the_evaluator(tmp_path, monkeypatch):
    """At the plain level a candidate can SIGKILL the evaluator host (documented). The run
    records that evaluation as an error naming it, and carries on."""
    kill_parent = parse_entry(CORPUS / "kill_parent.py")
    result, attempts = _run(tmp_path, "none", [kill_parent.code, HONEST], call_timeout=60)
    _, killed, honest = attempts
    assert killed.status is AttemptStatus.ERROR
    assert "the evaluator process died with SIGKILL" in killed.reason
    assert {"exit", "signals"} <= _rules(killed)
    assert honest.status is AttemptStatus.OK and result.best.id == honest.id
