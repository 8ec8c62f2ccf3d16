"""A strategy's numeric policy reaches an ordinary run: ``evoforge run TASK --strategy FILE`` sets
the strategy and applies its config_overrides() (checked as for self-improve; --set wins), and
a bad strategy is a clear error before anything runs."""
from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from evoforge.cli import main
from evoforge.storage import open_storage
from evoforge.strategy import load_strategy
from evoforge.testing.tasks import write_task

ROOT = Path(__file__).resolve().parents[2]
NUMERIC = ROOT / "examples" / "self_improve" / "numeric"

POLICY_STRATEGY = textwrap.dedent('''
    def config_overrides():
        return {"mutation.perturb_scale": 0.8, "search.islands": 1, "mutation.weights": {"perturb": 1.0}}
''')


def _config(run_dir: Path) -> dict:
    store = open_storage(f"sqlite:///{run_dir / 'run.db'}", read_only=True)
    try:
        (info,) = store.list_runs()
        return info.config
    finally:
        store.close()


def _run(task: Path, run_dir: Path, *extra: str) -> int:
    return main(["run", str(task), "--quiet", "--run-dir", str(run_dir), "--set", "budget.proposals=3",
                 "--set", "budget.llm_calls=null", *extra])


def test_run_with_a_strategy_file_applies_its_policy(tmp_path, capsys):
    task = write_task(tmp_path / "task")
    strategy = tmp_path / "policy.py"
    strategy.write_text(POLICY_STRATEGY)
    assert _run(task, tmp_path / "r1", "--strategy", str(strategy)) == 0
    cfg = _config(tmp_path / "r1")
    assert cfg["strategy"] == str(strategy.resolve())
    assert cfg["mutation"]["perturb_scale"] == 0.8 and cfg["search"]["islands"] == 1
    assert cfg["mutation"]["weights"] == {"perturb": 1.0}
    # --set wins over the strategy's policy
    assert _run(task, tmp_path / "r2", "--strategy", str(strategy), "--set", "search.islands=3") == 0
    assert _config(tmp_path / "r2")["search"]["islands"] == 3
    # without --strategy, a strategy: key alone keeps the task's numeric policy
    assert _run(task, tmp_path / "r3", "--set", f"strategy={strategy}", "--set", "mutation.weights={perturb: 1.0}") == 0
    assert _config(tmp_path / "r3")["mutation"]["perturb_scale"] == 0.1
    capsys.readouterr()


@pytest.mark.parametrize("source, message", [
    ("def config_overrides():\n    return {'budget.proposals': 1000}\n", "may not set 'budget.proposals'"),
    ("def config_overrides():\n    return {'mutation.perturb_scale': -1}\n", "mutation.perturb_scale: must be"),
    ("def config_overrides():\n    raise ValueError('no policy today')\n", "config_overrides() failed: ValueError: no policy today"),
    ("raise RuntimeError('boom')\n", "failed to load"),
])
def test_a_bad_strategy_is_a_clear_error_and_runs_nothing(tmp_path, capsys, source, message):
    task = write_task(tmp_path / "task")
    strategy = tmp_path / "bad.py"
    strategy.write_text(source)
    assert _run(task, tmp_path / "r", "--strategy", str(strategy)) == 2
    err = capsys.readouterr().err
    assert message in err and str(strategy.resolve()) in err
    assert not (tmp_path / "r").exists()


def test_a_missing_strategy_file_is_a_clear_error(tmp_path, capsys):
    task = write_task(tmp_path / "task")
    assert _run(task, tmp_path / "r", "--strategy", str(tmp_path / "nope.py")) == 2
    assert "no file" in capsys.readouterr().err


def test_the_numeric_strategys_step_knob_sets_the_perturb_scale(tmp_path):
    code = (NUMERIC / "strategy_numeric.py").read_text().replace("\nSTEP_LEVEL = 4", "\nSTEP_LEVEL = 7", 1)
    path = tmp_path / "s.py"
    path.write_text(code)
    assert load_strategy(str(path)).config_overrides() == {"mutation.perturb_scale": pytest.approx(0.8)}
