"""The Red Queen loop end to end (zero-cost operators only, no model), the behaviour archive
and the league helpers."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from evoforge.arenas import AssemblyError, assemble
from evoforge.arenas.league import load_warriors, play
from evoforge.arenas.map_elites import AddStatus, BehaviourArchive, Elite, log_bin
from evoforge.arenas.red_queen import main

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "corewar"
NO_MODEL = ["--llm", "openai/none@http://127.0.0.1:9/v1", "--set", "mutation.weights={perturb: 1.0}",
            "--set", "budget.llm_calls=null", "--set", "budget.proposals=4",
            "--set", "search.islands=1"]


@pytest.mark.slow
def test_red_queen_two_rounds_records_everything(tmp_path, capsys):
    out = tmp_path / "rq"
    code = main([str(EXAMPLE), "--rounds", "2", "--out", str(out), "--fight-rounds", "2",
                 "--quiet", *NO_MODEL])
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "round 2: champion score" in printed and "coverage \\ spawned" in printed
    champions = sorted(p.name for p in (out / "champions").glob("*.red"))
    assert champions == ["round-00.red", "round-01.red"]
    assemble((out / "champions" / "round-00.red").read_text())  # valid Redcode
    # round 2 evolved against round 1's champion: it sits in that round's history/
    history = out / "round-01" / "task" / "history" / "round-00.red"
    assert history.read_text() == (out / "champions" / "round-00.red").read_text()
    assert not (EXAMPLE / "history").exists()  # the example folder itself is untouched
    warriors = [json.loads(line) for line in (out / "warriors.jsonl").read_text().splitlines()]
    sources = {w["source"] for w in warriors}
    assert sources == {"opponent", "heldout", "evolved"}
    assert all(w["hash"] and "code" in w for w in warriors)
    fights = [json.loads(line) for line in (out / "fights.jsonl").read_text().splitlines()]
    kinds = {(f["round"], f["kind"]) for f in fights}
    assert (0, "heldout") in kinds and (1, "history") in kinds and (0, "history") not in kinds
    assert all(f["wins"] + f["ties"] + f["losses"] == 2 for f in fights)
    summary = json.loads((out / "summary.json").read_text())
    assert [s["round"] for s in summary] == [0, 1]
    assert summary[0]["vs_history"] is None and summary[1]["vs_history"] is not None
    assert 0 <= summary[1]["generality"] <= 1
    archive = BehaviourArchive.from_json(json.loads((out / "archive.json").read_text()))
    assert len(archive) >= 1 and archive.qd_score() > 0


def test_red_queen_cli_reports_user_errors(tmp_path, capsys):
    assert main([str(tmp_path), "--rounds", "1"]) == 2
    assert "not a task folder" in capsys.readouterr().err
    assert main([str(EXAMPLE), "--rounds", "0", "--out", str(tmp_path / "x")]) == 2


def test_archive_keeps_the_fittest_per_behaviour_cell():
    arc = BehaviourArchive(bins=4, max_processes=8000, coresize=8000)
    assert arc.add(Elite("a", 0.2, spawned=0, coverage=50)) == AddStatus.NEW
    assert arc.add(Elite("b", 0.1, spawned=0, coverage=60)) == AddStatus.NOT_ADDED
    assert arc.add(Elite("c", 0.5, spawned=0, coverage=55)) == AddStatus.IMPROVED
    assert arc.add(Elite("d", 0.4, spawned=500, coverage=4000)) == AddStatus.NEW
    assert arc.add(Elite("e", math.nan, spawned=1, coverage=1)) == AddStatus.NOT_ADDED
    assert len(arc) == 2 and arc.filled() == 2 / 16
    assert [e.key for e in arc.elites()] == ["c", "d"]
    assert arc.qd_score() == pytest.approx(0.9)
    again = BehaviourArchive.from_json(json.loads(json.dumps(arc.to_json())))
    assert again.cells == arc.cells
    assert "50" in arc.render()
    with pytest.raises(ValueError):
        BehaviourArchive(bins=1)


def test_log_bins():
    assert log_bin(0, 8, 8000) == 0 and log_bin(0.5, 8, 8000) == 0
    assert log_bin(1, 8, 8000) == 1 and log_bin(8000, 8, 8000) == 7
    assert log_bin(10**6, 8, 8000) == 7
    assert [log_bin(v, 8, 8000) for v in (2, 40, 900)] == sorted(
        log_bin(v, 8, 8000) for v in (2, 40, 900))


def test_league_and_loading(tmp_path):
    (tmp_path / "b.red").write_text("MOV 0, 1\n")
    (tmp_path / "a.red").write_text("DAT 0\n")
    loaded = load_warriors(tmp_path)
    assert [name for name, _ in loaded] == ["a", "b"]
    league = play(assemble("JMP 0"), loaded, rounds=2)
    assert [f.opponent for f in league.fights] == ["a", "b"]
    assert league.fights[0].wins == 2 and league.total("wins") >= 2
    assert "vs a: 2 won" in league.table()
    again = play(assemble("JMP 0"), loaded, rounds=2)
    assert [f.score for f in again.fights] == [f.score for f in league.fights]  # seeded
    (tmp_path / "c.red").write_text("NOT REDCODE AT ALL(\n")
    with pytest.raises(AssemblyError, match="c.red"):
        load_warriors(tmp_path)
