"""`evoforge self-improve` end to end against a scripted model: the outer run, promotion only on
held-out evidence, every decision recorded with its numbers, human approval, bad strategies."""
from __future__ import annotations

import json

import pytest

from evoforge.cli import main
from evoforge.rsi.fitness import InnerTask, normalised_improvement, score_strategy
from evoforge.rsi.outer import INITIAL_STRATEGY, SelfImproveOptions, self_improve
from evoforge.rsi.promotion import PromotionLog
from evoforge.storage import open_storage

pytestmark = pytest.mark.slow
ONLY_DIFF = {"mutation.weights": {"diff": 1.0}}


def _options(inner_tasks, server, out, **kw):
    base = dict(tasks=[str(inner_tasks["a"]), str(inner_tasks["b"])], holdout=[str(inner_tasks["h"])], out=str(out),
                llm=f"openai/scripted@{server.base_url}", inner_budget=2, seeds=1, holdout_seeds=5, outer_budget=2,
                outer_proposals=3, outer_overrides=ONLY_DIFF)
    return SelfImproveOptions(**{**base, **kw})


def _events(report, kind):
    store = open_storage(report.storage_url, read_only=True)
    try:
        return [e for e in store.events(report.run_id) if e.get("kind", kind) == kind]
    finally:
        store.close()


def test_better_strategy_is_promoted_with_its_numbers(inner_tasks, strategy_server, tmp_path):
    out = tmp_path / "out"
    report = self_improve(_options(inner_tasks, strategy_server, out))
    p = report.promotion
    assert report.candidate_train > report.incumbent_train
    assert p["status"] == "promoted", p["reason"]
    test = p["test"]
    assert test["n"] == 5 and test["p_value"] <= test["alpha"] == 0.05 and test["mean_diff"] > 0
    assert len(p["holdout"]) == 5 and all(pair["diff"] > 0 for pair in p["holdout"])
    assert "BOLDLY" in (out / "incumbent_strategy.py").read_text()
    assert "SandboxedStrategy" in (out / "incumbent_sandboxed.py").read_text()
    [logged] = PromotionLog(out).load()
    assert logged.id == p["id"] and logged.test["p_value"] == test["p_value"]
    events = _events(report, "promotion")
    assert any(json.dumps(p["id"]) in json.dumps(e) for e in events)
    # the outer run is an ordinary run: its strategies are attempts with training numbers
    store = open_storage(report.storage_url, read_only=True)
    attempts = store.attempts(report.run_id)
    store.close()
    assert attempts[0].mutation == "initial" and "runs_json" in attempts[0].metrics


def test_strategy_that_wins_on_training_but_loses_held_out_is_rejected(inner_tasks, trap_server, tmp_path):
    out = tmp_path / "out"
    report = self_improve(_options(inner_tasks, trap_server, out))
    p = report.promotion
    assert report.candidate_train > report.incumbent_train  # it did win on the training tasks
    assert p["status"] == "rejected" and p["test"]["mean_diff"] < 0 and p["test"]["accepted"] is False
    assert "BOLDLY" not in (out / "incumbent_strategy.py").read_text()
    assert not (out / "incumbent_sandboxed.py").exists()
    assert _events(report, "promotion")


def test_cli_human_approval_via_audit(inner_tasks, strategy_server, tmp_path, capsys):
    out = tmp_path / "out"
    args = ["self-improve", "--tasks", str(inner_tasks["a"]), "--holdout", str(inner_tasks["h"]), "--llm",
            f"openai/scripted@{strategy_server.base_url}", "--inner-budget", "2", "--holdout-seeds", "5", "--budget", "1",
            "--proposals", "2", "--approval", "human", "--set", "mutation.weights={diff: 1.0}", "--out", str(out), "--quiet"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "pending" in text
    [pending] = PromotionLog(out).load()
    assert "BOLDLY" not in (out / "incumbent_strategy.py").read_text()  # nothing installed yet
    assert main(["audit", str(out)]) == 0 and pending.id in capsys.readouterr().out
    assert main(["audit", str(out), "--approve", pending.id, "--note", "looks right"]) == 0
    assert PromotionLog(out).get(pending.id).status == "approved"
    assert "BOLDLY" in (out / "incumbent_strategy.py").read_text()
    assert main(["audit", str(out), "--reject", pending.id]) == 2  # already reviewed
    assert main(["rsi-audit", str(out), "--json"]) == 0


def test_crashing_or_cheating_strategies_are_invalid_not_crashes(inner_tasks, strategy_server, tmp_path):
    tasks = [InnerTask(str(inner_tasks["a"]), "a")]
    llm = f"openai/scripted@{strategy_server.base_url}"
    crash = INITIAL_STRATEGY.read_text() + "\n\ndef temperature(base, repeats):\n    raise ValueError('nope')\n"
    s = score_strategy(crash, tasks, [0], llm=llm, inner_budget=2)
    assert s.failure and "nope" in s.failure and not s.runs
    cheat = "import sqlite3\n\ndef build_messages(**context):\n    sqlite3.connect('/tmp/x.db')\n"
    assert "imports 'sqlite3'" in score_strategy(cheat, tasks, [0], llm=llm, inner_budget=2).failure
    ok = score_strategy(INITIAL_STRATEGY.read_text(), tasks, [0, 1], llm=llm, inner_budget=2)
    assert ok.failure is None and len(ok.runs) == 2 and 1.0 <= ok.mean <= 2.1  # +1 per call, from the best parent or not


def test_outer_evaluator_marks_a_bad_strategy_invalid(inner_tasks, strategy_server, tmp_path):
    from evoforge.rsi.outer import build_outer_task
    from evoforge.sandbox import evaluate_code

    opts = _options(inner_tasks, strategy_server, tmp_path / "o")
    train = [InnerTask(str(inner_tasks["a"]), "a")]
    folder = build_outer_task(opts, train, [InnerTask(str(inner_tasks["h"]), "h")], tmp_path / "outer")
    bad = "def build_messages(**context):\n    return [{'role': 'user', 'content': open('/etc/hostname').read()}]\n"
    ev = evaluate_code(folder, bad, program_filename="strategy.py", timeout=120)
    assert ev.status == "invalid" and "opens" in ev.reason
    good = evaluate_code(folder, INITIAL_STRATEGY.read_text(), program_filename="strategy.py", timeout=120)
    assert good.status == "ok" and 1.0 <= good.result.score <= 2.1


def test_user_errors(inner_tasks, tmp_path, capsys):
    a, h = str(inner_tasks["a"]), str(inner_tasks["h"])
    common = ["--llm", "openai/x@http://127.0.0.1:9/v1", "--quiet"]
    assert main(["self-improve", "--tasks", a, "--holdout", a, "--out", str(tmp_path / "o1"), *common]) == 2
    assert "both a training and a held-out" in capsys.readouterr().err
    assert main(["self-improve", "--tasks", a, "--holdout", h, "--holdout-seeds", "2", "--out", str(tmp_path / "o2"), *common]) == 2
    assert "needs at least 5 pairs" in capsys.readouterr().err
    assert main(["self-improve", "--tasks", str(tmp_path / "nope"), "--holdout", h, "--out", str(tmp_path / "o3"), *common]) == 2
    assert main(["self-improve", "--tasks", a, "--holdout", h, "--seed", "-1", "--out", str(tmp_path / "o4"), *common]) == 2
    assert "--seed must be at least 0" in capsys.readouterr().err
    assert main(["self-improve", "--tasks", a, "--holdout", h, "--seeds", "1001", "--out", str(tmp_path / "o5"), *common]) == 2
    assert "would train on held-out inner seed(s) 1000" in capsys.readouterr().err


def test_the_outer_seed_picks_the_training_seeds_never_the_held_out_ones(inner_tasks, strategy_server, tmp_path):
    """Two outer seeds are two replications: other training runs, the same held-out runs."""
    from evoforge.rsi.outer import build_outer_task

    specs = []
    for seed in (0, 3):
        opts = _options(inner_tasks, strategy_server, tmp_path / f"o{seed}", seeds=2, seed=seed)
        folder = build_outer_task(opts, [InnerTask(str(inner_tasks["a"]), "a")],
                                  [InnerTask(str(inner_tasks["h"]), "h")], tmp_path / f"outer{seed}")
        specs.append(json.loads((folder / "rsi.json").read_text()))
    assert [s["seeds"] for s in specs] == [[0, 1], [30000, 30001]]
    assert specs[0]["holdout_seeds"] == specs[1]["holdout_seeds"] == [1000, 1001, 1002, 1003, 1004]


def test_normalised_improvement_direction_and_scale():
    assert normalised_improvement(2.0, 3.0, "maximize") == (1.0, 0.5)
    assert normalised_improvement(4.0, 1.0, "minimize") == (3.0, 0.75)
    assert normalised_improvement(0.0, 0.5, "maximize") == (0.5, 0.5)
    assert normalised_improvement(10.0, 12.0, "maximize", scale=4.0) == (2.0, 0.5)
