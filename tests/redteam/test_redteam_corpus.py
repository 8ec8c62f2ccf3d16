"""The red-team corpus (corpus/*.py) against every isolation level, through `evaluate_code`.

Each entry is a small adversarial candidate whose header says what it attempts and which
outcome must be recorded (see redteam_helpers.py for the format). For every (entry, level):
the evaluation returns normally, in bounded time, with the declared status and a reason that
names what happened; nothing reaches the host (secrets in the record, the listener, files,
the task folder, another candidate's folder, the run database, surviving processes) unless
the header declares it for that level - then the test is a strict expected failure naming the
documented weakness. A BUG line marks a sandbox bug (strict xfail with the bug's description).
"""
from __future__ import annotations

import pytest
from redteam_helpers import (
    LEVELS,
    SECRET_ENV,
    Arena,
    Entry,
    WrongOutcome,
    judge,
    level_available,
    load_corpus,
)

from evoforge.sandbox import IsolationLevel, warm
from evoforge.testing.sandbox_suite import Breach, conditions

CORPUS = load_corpus()
FACTS = conditions()


def _modes(level: str) -> list[str]:
    """Cold always; warm too where the level forks calls from a zygote (sandbox/warm.py)."""
    available = level_available(level)
    return ["cold", "warm"] if available and warm.supported(IsolationLevel.parse(level)) else ["cold"]


def _cases():
    for entry in CORPUS:
        for level in LEVELS:
            for mode in _modes(level):
                marks = []
                if not level_available(level):
                    marks.append(pytest.mark.skip(reason=f"isolation level '{level}' is not usable here"))
                skip = entry.skip(level, FACTS)
                if skip:
                    marks.append(pytest.mark.skip(reason=skip))
                bug = entry.bug(level, FACTS)
                expect = entry.expectation(level, FACTS)
                if bug:
                    marks.append(pytest.mark.xfail(strict=True, raises=(WrongOutcome, Breach),
                                                   reason=f"SANDBOX BUG: {bug}"))
                elif expect.breaches:
                    marks.append(pytest.mark.xfail(
                        strict=True, raises=Breach,
                        reason=f"documented weaker level '{level}' "
                               f"({', '.join(sorted(expect.breaches))}): {expect.note}"))
                suffix = "-warm" if mode == "warm" else ""
                yield pytest.param(entry, level, mode, id=f"{entry.name}-{level}{suffix}", marks=marks)


@pytest.mark.parametrize("entry, level, mode", list(_cases()))
def test_corpus_entry_is_contained(entry: Entry, level: str, mode: str, tmp_path, monkeypatch):
    for key, value in SECRET_ENV.items():
        monkeypatch.setenv(key, value)  # the engine's environment holds API keys
    # the evaluator host inherits the switch: its candidate calls are cold or warm
    monkeypatch.setenv("EVOFORGE_SANDBOX_WARM", "1" if mode == "warm" else "0")
    arena = Arena(tmp_path, level)
    try:
        outcome = arena.run(entry)
    finally:
        arena.close()
    judge(entry, level, outcome, FACTS)


REQUIRED = {
    "fork_bomb", "memory_bomb", "infinite_loop", "sleep_past_timeout", "daemon_grandchild",
    "network_connect", "read_evaluator_source", "read_hidden_data", "env_api_keys",
    "write_host_tmp", "write_outside_workdir", "fake_result_stdout", "patch_time",
    "sys_exit_zero", "os_exit_zero", "return_nan", "return_minus_inf", "huge_output",
    "operator_override", "non_json_object", "keyboard_interrupt", "deep_recursion",
    "corrupt_result_channel", "kill_parent", "write_run_database", "huge_result",
    "proc_parent_environ", "ptrace_parent", "raise_rlimits", "spawn_shell", "fill_disk",
    "write_sibling_candidate",
}


def test_corpus_is_complete_and_well_formed():
    names = {entry.name for entry in CORPUS}
    assert len(CORPUS) >= 25
    assert REQUIRED <= names, sorted(REQUIRED - names)
    for entry in CORPUS:
        assert len(entry.attack) > 20, entry.name
        for level in LEVELS:  # every level has a stated expectation (no silent gaps)
            expect = entry.expectation(level, FACTS)
            if expect.breaches:
                assert expect.note, f"{entry.name}: a weaker level must say why ({level})"
            if expect.status == "ok" and not expect.breaches:
                assert expect.reason in ("", "^$"), entry.name
