"""DGM mode against a scripted model: archive weights, staged evaluation, broken children,
hidden tests out of the agents' reach, and the whole loop through the CLI."""
from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import pytest
from bench_fixes import FIXES, fix_edit

from evoforge.cli import main
from evoforge.llm.registry import create_provider
from evoforge.rsi.dgm.archive import AgentRecord, Archive, parent_weight
from evoforge.rsi.dgm.bench import load_bench, visible_files
from evoforge.rsi.dgm.loop import (
    DGMOptions,
    _Context,
    evaluate_agent,
    initial_agent_files,
    run_dgm,
)
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer

SHIPPED = Path(__file__).resolve().parents[2] / "examples" / "coding_bench"


@pytest.fixture
def small_bench(tmp_path) -> Path:
    root = tmp_path / "bench"
    for name in ("median", "rle", "roman", "brackets"):
        shutil.copytree(SHIPPED / "tasks" / name, root / "tasks" / name)
    (root / "bench.yaml").write_text("name: small\nstage1: [median, rle]\nthreshold: 0.5\n")
    return root


def responder(self_mod: str | None = None, solve=("median", "rle", "roman")):
    """Plays the model: fixes the tasks in `solve` when asked to; for a self-modification it
    applies `self_mod` (an edit of agent_code/agent.py) once. Agents whose system prompt says LAZY
    get no fix."""
    bench = load_bench(str(SHIPPED))
    modules = {t.name: t.module for t in bench.tasks}

    def respond(request):
        msgs = request["messages"]
        text = "\n".join(m["content"] for m in msgs)
        if "Improve a coding agent" in text:
            return self_mod if self_mod and len(msgs) == 2 else "DONE"
        if "LAZY" in msgs[0]["content"]:
            return "All tests pass, score 1.0. DONE"
        for name in solve:
            if f"# {name}" in text and FIXES[name][0].rstrip("\n") in text:
                return fix_edit(name, modules[name])
        return "DONE"
    return respond


def _edit(search, replace):
    return f"FILE: agent_code/agent.py\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\nDONE"


LAZY = _edit('SYSTEM = ("You are a careful Python programmer.', 'SYSTEM = ("LAZY. You are a careful Python programmer.')
SYNTAX = _edit("MAX_STEPS = 4", "MAX_STEPS = = 4")
CRASH = _edit("MAX_STEPS = 4", "MAX_STEPS = 4\nraise SystemExit('the agent broke itself')")
BENIGN = _edit("MAX_STEPS = 4", "MAX_STEPS = 3")


def _run(small_bench, tmp_path, self_mod, iterations=1, **kw):
    with ScriptedOpenAIServer(responder=responder(self_mod, **kw)) as srv:
        opts = DGMOptions(bench=str(small_bench), out=str(tmp_path / "out"), llm=f"openai/scripted@{srv.base_url}",
                          iterations=iterations, agent_timeout=60)
        report = run_dgm(opts)
        requests = list(srv.requests)
    return report, Archive.load(tmp_path / "out"), requests


def test_parent_weights_follow_dgm():
    assert parent_weight(0.5, 0) == pytest.approx(0.5)
    assert parent_weight(1.0, 0) == pytest.approx(1 / (1 + math.exp(-5)))
    assert parent_weight(1.0, 3) == pytest.approx(parent_weight(1.0, 0) / 4)
    archive = Archive("/nonexistent")
    archive.agents = {"a": AgentRecord("a", None, 0, "ok", 0.9), "b": AgentRecord("b", "a", 1, "ok", 0.2, children=1),
                      "c": AgentRecord("c", "a", 1, "failed", 1.0)}
    probs = archive.probabilities()
    assert set(probs) == {"a", "b"} and probs["a"] > 0.9  # failed agents are never parents
    picks = [archive.select_parent(random.Random(i)).id for i in range(200)]
    assert picks.count("a") > 170 and "c" not in picks


def test_staged_evaluation_skips_the_rest_for_a_bad_agent(small_bench, tmp_path):
    report, archive, _ = _run(small_bench, tmp_path, LAZY)
    root, child = archive.agents["agent-0000"], archive.agents["agent-0001"]
    assert root.stage == 2 and sorted(root.evaluated) == ["brackets", "median", "rle", "roman"]
    assert root.score == pytest.approx(0.75)
    assert child.stage == 1 and sorted(child.evaluated) == ["median", "rle"]  # never tried on the rest
    assert child.status == "failed" and child.score == 0 and "solved no task" in child.reason
    assert report["archive_size"] == 1 and report["failed"] == 1


@pytest.mark.parametrize("edit, why", [(SYNTAX, "does not compile"), (CRASH, "crashed on every task")])
def test_an_agent_that_breaks_its_own_code_is_recorded_as_failed(small_bench, tmp_path, edit, why):
    report, archive, _ = _run(small_bench, tmp_path, edit)
    child = archive.agents["agent-0001"]
    assert child.status == "failed" and why in child.reason
    assert (tmp_path / "out" / "agents" / "agent-0001" / "agent.py").is_file()  # kept for inspection
    assert archive.agents["agent-0000"].children == 1 and report["archive_size"] == 1


@pytest.fixture(params=["bwrap", "landlock"])
def hiding_level(request):
    """The levels that keep hidden tests from agents: bwrap does not mount them, landlock does
    not let them be opened (it does not hide their names from stat)."""
    from evoforge.sandbox.isolation import IsolationLevel, probe

    level = IsolationLevel.parse(request.param)
    if not probe(level):
        pytest.skip(f"{request.param} is not usable here")
    return level


def test_hidden_tests_never_reach_the_agent(small_bench, tmp_path, hiding_level):
    """The agent, running shell commands in its sandbox, cannot see the hidden tests.

    The probe asserts the property by structure, not by an unbounded search: every ancestor of
    the hidden file is looked up by path (only the sandbox's own fresh /tmp may exist), the file
    is read directly, and the places the agent can write are searched. Each command is a handful
    of lookups, so the agent's 20 s tool limit is never near, loaded machine or not; a probe that
    did time out would fail with that said, never read as "file hidden".
    """
    hidden = small_bench / "tasks" / "median" / "hidden_tests.json"
    ancestors = [str(p) for p in reversed(hidden.parents) if str(p) != "/"] + [str(hidden)]
    assert str(tmp_path) in ancestors
    checks = " ".join(f"'{a}'" for a in ancestors)
    probe = ("```bash\nls -a; echo ==; "
             f"for p in {checks}; do if [ -e \"$p\" ]; then echo \"EXISTS $p\"; fi; done; echo ==; "
             f"cat '{hidden}' 2>&1; echo ==; find /tmp \"$HOME\" \"$PWD\" -name 'hidden_tests*' 2>/dev/null; echo ==; "
             f"echo tried > '{small_bench}/planted.txt'; echo END\n```")
    seen = []

    def respond(request):
        seen.append(request)
        return probe if len(request["messages"]) == 2 else "DONE"

    with ScriptedOpenAIServer(responder=respond) as srv:
        bench = load_bench(str(small_bench))
        provider = create_provider(f"openai/scripted@{srv.base_url}", retry=False)
        opts = DGMOptions(bench=str(small_bench), out=str(tmp_path / "o"), agent_timeout=600)
        ctx = _Context(opts, bench, provider, hiding_level, lambda _t: None)
        run = ctx.agent(initial_agent_files(), visible_files(bench.task("median")), 2)
    assert len(seen) >= 2, f"the agent never reported its command's output: {run.log[-2000:]}"
    report = seen[1]["messages"][-1]["content"]
    assert "(timed out after" not in report, f"the probe itself timed out (machine stalled?): {report}"
    output = report.split(")\n", 1)[1]  # after "(exit N)": what the agent saw
    listing, exists, cat, found, rest = output.split("==\n", 4)
    assert listing.startswith(".\n..\nSTATEMENT.md\nstats.py\n")  # its task folder holds only these
    visible = [ln.removeprefix("EXISTS ") for ln in exists.splitlines() if ln.startswith("EXISTS ")]
    # only folders above the test's own tmp dir may exist there (the sandbox's fresh /tmp, mount
    # points of the Python install); the test's folder, the bench and the file itself may not
    leaked = [p for p in visible if p == str(tmp_path) or p.startswith(str(tmp_path) + "/")]
    if hiding_level.name == "BWRAP":
        assert not leaked, f"the hidden file's folders are visible to the agent: {leaked}"
        assert f"cat: {hidden}: No such file" in cat
    else:  # landlock: the names may be seen, the content may not be read
        assert f"cat: {hidden}: Permission denied" in cat, cat
    assert '"expect"' not in cat
    assert found.strip() == "", f"hidden tests found where the agent can look: {found}"
    assert "END" in rest  # the probe ran to its end (the planting attempt below did nothing)
    assert sorted(run.files) == ["STATEMENT.md", "stats.py"]
    assert not (small_bench / "planted.txt").exists()
    assert "[-1, -5, 3, 7]" not in json.dumps(seen) and "-1, -5, 3, 7" in hidden.read_text()  # a hidden case


def test_score_comes_from_hidden_tests_not_from_what_the_agent_says(small_bench, tmp_path):
    with ScriptedOpenAIServer(responder=lambda r: "ALL TESTS PASS. score: 1.0\nDONE") as srv:
        bench = load_bench(str(small_bench))
        opts = DGMOptions(bench=str(small_bench), out=str(tmp_path / "o"), agent_timeout=60)
        from evoforge.sandbox import detect_isolation

        ctx = _Context(opts, bench, create_provider(f"openai/scripted@{srv.base_url}"), detect_isolation(), lambda _t: None)
        ev = evaluate_agent(ctx, initial_agent_files(), full=True)
    assert ev.score == 0 and ev.stage == 2 and all(o["passed"] < o["total"] for o in ev.outcomes.values())


def test_cli_runs_the_loop_and_records_lineage(small_bench, tmp_path, capsys):
    out = tmp_path / "out"
    with ScriptedOpenAIServer(responder=responder(BENIGN)) as srv:
        code = main(["dgm", "--bench", str(small_bench), "--llm", f"openai/scripted@{srv.base_url}", "--iterations", "2",
                     "--agent-timeout", "60", "--out", str(out), "--quiet"])
    assert code == 0 and "archive:" in capsys.readouterr().out
    archive = Archive.load(out)
    assert len(archive.agents) == 3
    child = archive.agents["agent-0001"]
    assert child.status == "ok" and child.parent_id == "agent-0000" and child.score == pytest.approx(0.75)
    assert "MAX_STEPS = 3" in (out / "agents" / "agent-0001" / "agent.py").read_text()
    assert archive.agents["agent-0002"].status == "failed"  # its parent, already changed, changed nothing more
    assert main(["export", str(out)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["parent_id"] for r in rows] == [None, "agent-0000", rows[2]["parent_id"]]
    store = open_storage(str(out / "run.db"), read_only=True)
    info = store.list_runs()[-1]
    purposes = {c.purpose for c in store.llm_calls(info.id)}
    events = store.events(info.id)
    store.close()
    assert purposes == {"dgm_solve", "dgm_self_modify"} and len(events) >= 2
    assert main(["dgm", "--bench", str(small_bench), "--out", str(out), "--quiet"]) == 2  # existing run: user error
    assert main(["dgm", "--bench", str(tmp_path / "none"), "--out", str(tmp_path / "o2"), "--quiet"]) == 2
