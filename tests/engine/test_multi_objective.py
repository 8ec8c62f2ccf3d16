"""Many-objective runs end to end: real subprocess evaluations, real SQLite files, zero-cost
operators (no model). The front is stored and rebuilt on resume, every bad input is a clear
config error or an invalid attempt naming what is wrong, and nothing is lost."""
from __future__ import annotations

import math

import pytest
import yaml

import evoforge
from evoforge.cli import main
from evoforge.config import load_config
from evoforge.engine.objectives import Objectives, ObjectiveSpec, front_summary, stored_front
from evoforge.errors import ConfigError
from evoforge.program import AttemptStatus
from evoforge.search.pareto import box_volume, dominates
from evoforge.storage.base import open_storage
from evoforge.testing.tasks import write_task

NO_MODEL = "openai/none@http://127.0.0.1:9/v1"   # never called: operators only

INITIAL = '''\
"""Two knobs: A buys quality, B costs."""


# EVOLVE-BLOCK-START
def knobs():
    A = 1.0
    B = 2.0
    return A, B
# EVOLVE-BLOCK-END
'''

# quality rises with A but saturates; cost grows with A and falls with B: a real trade-off
EVALUATE = '''\
import math
from evoforge import Candidate, Result

METRICS = {metrics}


def evaluate(candidate: Candidate) -> Result:
    a, b = candidate.call("knobs", timeout=10)
    quality = 1.0 - math.exp(-a)
    cost = a * a + 1.0 / (1.0 + b)
    values = {{"quality": quality, "cost": cost, "NaN!": float("nan"), "Inf!": float("inf")}}
    return Result(score=quality - cost, metrics={{k: values[k] if v == "real" else values.get(v, v) if isinstance(v, str) else v
                                                 for k, v in METRICS.items()}})
'''

PARETO_YAML = """\
name: mo
description: Trade quality against cost.
objectives:
  - {name: quality, direction: maximize, reference: 0.0}
  - {name: cost, direction: minimize, reference: 10.0}
search: {parent_selection: pareto, islands: 2}
"""

OPS = {"mutation.weights": {"perturb": 1.0}, "budget.llm_calls": None}


def _task(tmp_path, yaml_text=PARETO_YAML, metrics=None):
    metrics = metrics if metrics is not None else {"quality": "real", "cost": "real"}
    return write_task(tmp_path / "task", initial=INITIAL, evaluate=EVALUATE.format(metrics=repr(metrics)), yaml=yaml_text)


def _run(task, run_dir, proposals, **extra):
    return evoforge.run(task, llm=NO_MODEL, run_dir=run_dir, progress=False,
                        overrides={**OPS, "budget.proposals": proposals, **extra})


def _attempts(run_dir):
    storage = open_storage(str(run_dir / "run.db"), read_only=True, create=False)
    try:
        run = storage.list_runs()[0]
        return run, storage.attempts(run.id)
    finally:
        storage.close()


def test_a_pareto_run_stores_each_objective_and_scores_by_the_points_own_hypervolume(tmp_path):
    result = _run(_task(tmp_path), tmp_path / "r", 10)
    run, attempts = _attempts(tmp_path / "r")
    programs = [a for a in attempts if a.status is AttemptStatus.OK]
    assert len(programs) >= 3
    for a in programs:
        obj = a.metrics["objectives"]
        assert set(obj) == {"quality", "cost"}
        assert a.metrics["evaluator_score"] == pytest.approx(obj["quality"] - obj["cost"])
        assert a.score == pytest.approx(box_volume((obj["quality"], -obj["cost"]), (0.0, -10.0)))
    assert result.best.score == max(a.score for a in programs)
    spec = ObjectiveSpec.from_dict(run.config)
    summary = front_summary(spec, programs)
    front = [spec.oriented(v) for _, v in summary.front]
    assert front and all(not dominates(q, p) for p in front for q in front)
    everything = [spec.oriented(a.metrics["objectives"]) for a in programs]
    assert all(any(dominates(p, q) or p == q for p in front) for q in everything)  # the front covers every program
    assert summary.history[-1][1] == pytest.approx(summary.hypervolume)
    assert [hv for _, hv in summary.history] == sorted(hv for _, hv in summary.history)  # never shrinks


def test_the_archive_is_rebuilt_on_resume_and_no_attempt_is_lost(tmp_path):
    task = _task(tmp_path)
    _run(task, tmp_path / "r", 6)
    _, before = _attempts(tmp_path / "r")
    evoforge.resume(tmp_path / "r", budget=None, overrides={"budget.proposals": 10}, progress=False)
    run, after = _attempts(tmp_path / "r")
    assert {a.id for a in before} <= {a.id for a in after} and len(after) > len(before)
    assert max(a.proposal_index for a in after) >= 10
    restored = Objectives.from_config(load_config(yaml.safe_load(PARETO_YAML)))
    programs = [a for a in after if a.status is AttemptStatus.OK]
    restored.restore(programs)
    assert set(restored.archive.vectors) == {a.id for a in programs}
    for island in (0, 1):   # each island's front is the non-dominated set of its own programs
        mine = [restored.spec.oriented(a.metrics["objectives"]) for a in programs if a.island == island]
        for p in restored.archive.front(island):
            assert not any(dominates(q, p.vector) for q in mine)


def test_the_objectives_may_be_the_cpu_the_sandbox_measured(tmp_path):
    yaml_text = PARETO_YAML.replace("{name: cost, direction: minimize, reference: 10.0}",
                                    "{name: compute.cpu_s, direction: minimize, reference: 30.0}")
    _run(_task(tmp_path, yaml_text, metrics={"quality": "real"}), tmp_path / "r", 3)
    _, attempts = _attempts(tmp_path / "r")
    programs = [a for a in attempts if a.status is AttemptStatus.OK]
    assert programs
    for a in programs:
        assert a.metrics["objectives"]["compute.cpu_s"] == a.metrics["compute"]["cpu_s"] > 0


@pytest.mark.parametrize("metrics, reason", [
    ({"quality": "real"}, "objective 'cost' is missing from the evaluator's Result.metrics (metrics given: code_length, "
                          "compute, edit_size, quality)"),
    ({"quality": "real", "cost": "NaN!"}, "objective 'cost' is not finite: nan"),
    ({"quality": "Inf!", "cost": "real"}, "objective 'quality' is not finite: inf"),
    ({"quality": "real", "cost": "cheap"}, "objective 'cost' is not a number: 'cheap'"),
    ({"quality": "real", "cost": True}, "objective 'cost' is not a number: True"),
    ({"quality": "real", "cost": None}, "objective 'cost' is not a number: 'None'"),   # Result keeps None as text
])
def test_a_bad_objective_value_makes_the_attempt_invalid_with_a_clear_reason(tmp_path, metrics, reason):
    result = _run(_task(tmp_path, metrics=metrics), tmp_path / "r", 3)
    _, attempts = _attempts(tmp_path / "r")
    (initial,) = attempts     # nothing valid to build on: the run stops after the initial program
    assert initial.status is AttemptStatus.INVALID
    assert reason in initial.reason
    assert initial.score is None and "objectives" not in initial.metrics
    assert result.best is None and result.stop_reason


def test_a_lexicographic_run_ranks_by_the_first_objective_then_the_next(tmp_path):
    yaml_text = """\
name: mo
description: Quality first, then cost.
objective_mode: lexicographic
objectives:
  - {name: quality, direction: maximize}
  - {name: cost, direction: minimize}
search: {parent_selection: lexicographic}
"""
    result = _run(_task(tmp_path, yaml_text), tmp_path / "r", 8)
    _, attempts = _attempts(tmp_path / "r")
    programs = [a for a in attempts if a.status is AttemptStatus.OK]
    for a in programs:
        assert a.score == a.metrics["objectives"]["quality"]
    key = lambda a: (a.metrics["objectives"]["quality"], -a.metrics["objectives"]["cost"])  # noqa: E731
    assert key(result.best) == max(key(a) for a in programs)
    resumed = evoforge.resume(tmp_path / "r", overrides={"budget.proposals": 12}, progress=False)
    _, attempts = _attempts(tmp_path / "r")
    assert key(resumed.best) == max(key(a) for a in attempts if a.status is AttemptStatus.OK)


def test_single_objective_runs_store_no_objectives(tmp_path):
    task = write_task(tmp_path / "plain")
    result = _run(task, tmp_path / "r", 3)
    _, attempts = _attempts(tmp_path / "r")
    assert all("objectives" not in a.metrics and "evaluator_score" not in a.metrics for a in attempts)
    assert result.best.score == max(a.score for a in attempts if a.score is not None)
    assert stored_front(open_storage(str(tmp_path / "r" / "run.db"), read_only=True), result.run_id) is None


def test_the_cli_summary_prints_the_front(tmp_path, capsys):
    code = main(["run", str(_task(tmp_path)), "--quiet", "--llm", NO_MODEL, "--run-dir", str(tmp_path / "r"),
                 "--set", "mutation.weights={perturb: 1}", "--set", "budget.llm_calls=null",
                 "--set", "budget.proposals=4"])
    out = capsys.readouterr().out
    assert code == 0
    assert "front (pareto):" in out and "hypervolume" in out and "quality=" in out and "cost=" in out


def _cfg(**top):
    base = yaml.safe_load(PARETO_YAML)
    base.update(top)
    return load_config(base)


@pytest.mark.parametrize("change, message", [
    ({"objectives": [{"name": "quality", "directon": "maximize", "reference": 0}, {"name": "cost", "reference": 1}]},
     "did you mean 'direction'"),
    ({"objectives": [{"name": "quality", "direction": "up", "reference": 0}, {"name": "cost", "reference": 1}]},
     "'up' is not one of 'maximize', 'minimize'"),
    ({"objectives": [{"name": "quality", "reference": 0}]}, "at least two"),
    ({"objectives": [{"name": "quality", "reference": 0}, {"name": "quality", "reference": 1}]}, "listed twice"),
    ({"objectives": [{"name": "quality", "reference": 0}, {"name": "", "reference": 1}]}, "needs the name"),
    ({"objectives": [{"name": "quality", "reference": 0}, {"name": "a..b", "reference": 1}]}, "not a metric name"),
    ({"objectives": [{"name": "quality", "reference": 0}, {"name": "cost"}]}, "pareto mode needs a reference"),
    ({"objectives": [{"name": "quality", "reference": 0}, {"name": "cost", "reference": math.inf}]}, "finite"),
    ({"objectives": [{"name": "quality", "reference": 0}, {"name": "cost", "reference": "high"}]}, "expected"),
    ({"objectives": [{"name": f"m{i}", "reference": 0} for i in range(5)]}, "at most 4"),
    ({"objectives": "quality"}, "expected a list"),
    ({"direction": "minimize"}, "each objective has its own direction"),
    ({"objective_mode": "weighted"}, "is not one of 'pareto', 'lexicographic'"),
    ({"search": {"parent_selection": "paretto"}}, "did you mean 'pareto'"),
])
def test_every_bad_objectives_config_is_a_clear_error(change, message):
    with pytest.raises(ConfigError, match=None) as info:
        _cfg(**change)
    assert message in str(info.value)


def test_a_good_config_loads_and_the_lexicographic_mode_needs_no_reference():
    cfg = _cfg()
    assert [o.name for o in cfg.objectives] == ["quality", "cost"] and cfg.objective_mode == "pareto"
    cfg = _cfg(objective_mode="lexicographic", objectives=[{"name": "quality"}, {"name": "cost", "direction": "minimize"}])
    assert cfg.objectives[1].reference is None
    assert load_config({}).objectives == []


def test_the_report_shows_the_front_and_its_hypervolume_over_time(tmp_path):
    pytest.importorskip("matplotlib")
    from evoforge.ui.report import write_report

    _run(_task(tmp_path), tmp_path / "r", 5)
    run, attempts = _attempts(tmp_path / "r")
    summary = front_summary(ObjectiveSpec.from_dict(run.config), [a for a in attempts if a.status is AttemptStatus.OK])
    text = write_report(tmp_path / "r", tmp_path / "report.html", png=False).read_text()
    assert "Pareto front (pareto)" in text and 'id="plot-front"' in text and 'id="plot-hypervolume"' in text
    assert all(a.id in text for a, _ in summary.front)   # each front point names its program
    assert "Pareto front" not in write_report(_run(write_task(tmp_path / "plain"), tmp_path / "p", 2).run_dir,
                                              tmp_path / "plain.html", png=False).read_text()


def test_the_dashboard_serves_the_front_and_each_point_leads_to_its_program(tmp_path):
    import json
    import urllib.request

    from evoforge.ui.server import start_in_thread
    from evoforge.ui.sources import RunRegistry

    _run(_task(tmp_path), tmp_path / "r", 5)
    _run(write_task(tmp_path / "plain"), tmp_path / "p", 1)
    registry = RunRegistry([str(tmp_path / "r"), str(tmp_path / "p")])
    server = start_in_thread(registry)
    try:
        def get(path):
            with urllib.request.urlopen(server.url.rstrip("/") + path, timeout=30) as response:
                return json.loads(response.read())

        runs = {r["task"]: r["key"] for r in get("/api/runs")["runs"]}
        mo_key = runs["mo"]
        front = get(f"/api/runs/{mo_key}/front")
        assert [o["name"] for o in front["objectives"]] == ["quality", "cost"] and front["mode"] == "pareto"
        on_front = [p for p in front["points"] if p["front"]]
        assert on_front and front["hypervolume"] > 0 and front["history"][-1]["hypervolume"] == front["hypervolume"]
        detail = get(f"/api/runs/{mo_key}/attempts/{on_front[0]['id']}")
        assert "knobs" in json.dumps(detail)       # the point's program, code included
        assert get(f"/api/runs/{runs['value_task']}/front")["objectives"] == []
    finally:
        server.shutdown()
        registry.close()


def test_the_two_objectives_example_runs_and_measures_both_objectives(tmp_path):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "two_objectives"
    result = _run(example, tmp_path / "r", 2)
    _, attempts = _attempts(tmp_path / "r")
    initial = next(a for a in attempts if a.mutation == "initial")
    assert initial.status is AttemptStatus.OK, initial.reason
    obj = initial.metrics["objectives"]
    assert 4 < obj["digits"] < 15 and obj["compute.cpu_s"] == initial.metrics["compute"]["cpu_s"] > 0
    assert result.best is not None and result.best.score > 0
