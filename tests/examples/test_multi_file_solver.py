"""examples/multi_file_solver end to end: a folder program (solver package: a frozen search loop,
an evolvable heuristic and data structure in different modules) evolved by a scripted model
whose SEARCH/REPLACE edits reach into two files; the evaluator bounds compute by counted
queries, so the better score comes from a better algorithm. Real engine, evaluator host,
sandbox and SQLite file; then `evoforge best --out`, `show` and `export` on the stored run."""
from __future__ import annotations

import json

import evoforge
from evoforge.bundle import pack, read_folder, unpack
from evoforge.bundle_rules import evolvable_files
from evoforge.cli import main as cli_main
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from example_helpers import EXAMPLES, initial

TASK = EXAMPLES / "multi_file_solver"

# 1: explore less, refine more (heuristic.py); 2: a frozen file touched (refused); 3: refine
# around the three best probes, not only the best one (heuristic.py, using structure.py's top()).
EDITS = [
    "<<<<<<< SEARCH\nEXPLORE = 0.9      # probability\n=======\nEXPLORE = 0.3      # probability\n>>>>>>> REPLACE\n",
    "<<<<<<< SEARCH\n    for step in range(budget):\n=======\n    for step in range(budget * 2):\n>>>>>>> REPLACE\n",
    ("<<<<<<< SEARCH\n    return best[0] + rng.randint(-width, width)\n=======\n"
     "    anchor = rng.choice(probes.top(3))\n    return anchor[0] + rng.randint(-width, width)\n>>>>>>> REPLACE\n"),
]


def test_the_folder_program_loads_with_its_files_frozen_and_evolvable():
    files = unpack(initial("multi_file_solver"))
    assert files == read_folder(TASK / "src")
    assert sorted(files) == ["solver/__init__.py", "solver/heuristic.py", "solver/main.py", "solver/structure.py"]
    assert evolvable_files(files) == ["solver/heuristic.py", "solver/structure.py"]   # main.py is frozen


def test_a_scripted_run_improves_the_score_and_the_cli_writes_the_folder(tmp_path, capsys):
    replies = iter(EDITS)
    with ScriptedOpenAIServer(responder=lambda request: next(replies)) as srv:
        result = evoforge.run(TASK, llm=f"openai/scripted@{srv.base_url}", budget=len(EDITS), run_dir=tmp_path / "run",
                              overrides={"mutation.weights": {"diff": 1.0}, "mutation.fill_idle": False,
                                         "mutation.diff_retries": 0,
                                         "search.islands": 1, "evaluator.workers": 1})
    store = open_storage(result.storage_url, read_only=True)
    attempts = store.attempts(result.run_id)
    store.close()
    by_index = sorted(attempts, key=lambda a: a.proposal_index)
    initial_score = by_index[0].score
    assert by_index[0].mutation == "initial" and 0.6 < initial_score < 0.8
    statuses = [a.status.value for a in by_index[1:]]
    assert statuses == ["ok", "apply_failed", "ok"], [(a.status.value, a.reason) for a in by_index]
    refused = by_index[2].reason                                        # the edit to frozen main.py
    assert "solver/main.py" in refused or "outside the EVOLVE-BLOCKs" in refused, refused
    main = unpack(by_index[0].code)["solver/main.py"]
    assert all(unpack(a.code)["solver/main.py"] == main for a in by_index if a.is_program)
    assert result.best.score > initial_score + 0.05, (initial_score, result.best.score, statuses)
    changed = [p for p, text in unpack(result.best.code).items() if text != unpack(by_index[0].code)[p]]
    assert changed == ["solver/heuristic.py"]

    assert pack(read_folder(tmp_path / "run" / "best")) == result.best.code   # the run folder holds it too
    out = tmp_path / "best"
    assert cli_main(["best", str(tmp_path / "run"), "--out", str(out)]) == 0
    assert pack(read_folder(out)) == result.best.code          # the folder, byte for byte
    assert cli_main(["best", str(tmp_path / "run"), "--out", str(out)]) == 2   # never overwrites
    capsys.readouterr()

    assert cli_main(["best", str(tmp_path / "run")]) == 0
    printed = capsys.readouterr()
    assert printed.out == result.best.code and "--out DIR writes its files" in printed.err

    assert cli_main(["show", str(tmp_path / "run"), result.best.id]) == 0
    shown = capsys.readouterr().out
    assert "--- a/solver/heuristic.py\n+++ b/solver/heuristic.py\n" in shown
    assert "a/solver/main.py" not in shown and "a/solver/structure.py" not in shown

    assert cli_main(["export", str(tmp_path / "run")]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    best_row = next(r for r in rows if r["id"] == result.best.id)
    assert best_row["files"] == unpack(result.best.code) and best_row["code"] == result.best.code


def test_a_resumed_run_continues_from_the_stored_folder_programs(tmp_path):
    """Resume reads programs back through their manifests (storage.codes, best_attempts): the
    population it rebuilds holds the same bundles, and the next edit applies to the stored best."""
    replies = iter(EDITS[:1] + EDITS[2:])
    with ScriptedOpenAIServer(responder=lambda request: next(replies)) as srv:
        llm = f"openai/scripted@{srv.base_url}"
        overrides = {"mutation.weights": {"diff": 1.0}, "mutation.fill_idle": False, "mutation.diff_retries": 0,
                     "search.islands": 1, "evaluator.workers": 1}
        first = evoforge.run(TASK, llm=llm, budget=1, run_dir=tmp_path / "run", overrides=overrides)
        second = evoforge.resume(tmp_path / "run", llm=llm, budget=2, overrides=overrides)
    assert second.run_id == first.run_id
    store = open_storage(second.storage_url, read_only=True)
    attempts = sorted(store.attempts(second.run_id), key=lambda a: a.proposal_index)
    store.close()
    assert [a.status.value for a in attempts] == ["ok", "ok", "ok"]
    assert attempts[2].parent_id in {attempts[0].id, attempts[1].id}
    assert "probes.top(3)" in unpack(attempts[2].code)["solver/heuristic.py"]
    assert unpack(attempts[2].code)["solver/main.py"] == unpack(attempts[0].code)["solver/main.py"]
