"""``evoforge self-improve --target``: evoforge improving one of its own modules in a sandboxed copy,
with its own tests as stage 1 and a benchmark as the score; the output is a patch and a report."""
from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from evoforge.cli import main
from evoforge.errors import UserError
from evoforge.rsi import target as target_mod
from evoforge.testing.openai_server import ScriptedOpenAIServer

BREAK_MATCH = ("<<<<<<< SEARCH\n        if lines[i:i + m] == search:\n=======\n"
               "        if lines[i:i + m] == search and i < 0:\n>>>>>>> REPLACE\n")
# A slightly sharper default weighting: keeps the tests passing and, on this deterministic (but
# noisy: 6 seeds) toy benchmark, scores 0.639 against the current 0.421.
IMPROVE_SELECTION = ('<<<<<<< SEARCH\n'
                     '        return rng.choices(list(members), weights=shinka_weights(members, self.settings.sharpness), k=1)[0]\n'
                     '=======\n'
                     '        return rng.choices(list(members), weights=shinka_weights(members, self.settings.sharpness * 1.3), k=1)[0]\n'
                     '>>>>>>> REPLACE\n')


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_breaking_edit_is_invalid_and_package_untouched(tmp_path, capsys):
    _, source, _ = target_mod.resolve_target("evoforge.mutate.match")
    before = _digest(source)
    with ScriptedOpenAIServer(responder=lambda request: BREAK_MATCH) as srv:
        out = tmp_path / "o"
        code = main(["self-improve", "--target", "evoforge.mutate.match", "--out", str(out), "--quiet",
                     "--llm", f"openai/s@{srv.base_url}", "--budget", "1", "--proposals", "1"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "report.md" in printed and "patch.diff" in printed
    assert _digest(source) == before                      # the installed package is byte-identical
    report = (out / "report.md").read_text()
    assert (out / "patch.diff").is_file() and (out / "patch.diff").read_text() == ""  # nothing better: empty
    assert "tests failed: tests/mutate/test_mutate_edits.py::" in report
    assert "no improvement found" in report
    # the edit really was applied to the candidate (a copy), and the baseline scored
    spec = json.loads((out / "target_task" / "target.json").read_text())
    assert spec["module_path"] == "evoforge/mutate/match.py"
    assert "baseline (current module): score 0.8" in report


def test_improving_edit_gives_a_patch_for_review(tmp_path):
    _, source, _ = target_mod.resolve_target("evoforge.search.selection")
    before = _digest(source)
    with ScriptedOpenAIServer(responder=lambda request: IMPROVE_SELECTION) as srv:
        out = tmp_path / "o"
        code = main(["self-improve", "--target", "evoforge.search.selection", "--out", str(out), "--quiet",
                     "--llm", f"openai/s@{srv.base_url}", "--budget", "1", "--proposals", "1"])
    assert code == 0
    assert _digest(source) == before
    patch = (out / "patch.diff").read_text()
    assert "+        return rng.choices(list(members), weights=shinka_weights(members, self.settings.sharpness * 1.3), k=1)[0]" in patch
    assert "a/src/evoforge/search/selection.py" in patch
    report = (out / "report.md").read_text()
    assert "candidate patch" in report and "```diff" in report
    # the patch applies to the checkout (checked, not applied)
    repo = source.parents[2]
    if (repo / ".git").exists():
        check = subprocess.run(["git", "apply", "--check", str(out / "patch.diff")], check=False, cwd=repo,
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stderr


@pytest.mark.slow
def test_operators_only_run(tmp_path):
    _, source, _ = target_mod.resolve_target("evoforge.mutate.match")
    before = _digest(source)
    out = tmp_path / "o"
    assert main(["self-improve", "--target", "evoforge.mutate.match", "--out", str(out), "--quiet",
                 "--set", "mutation.weights={perturb: 1.0}", "--set", "budget.llm_calls=null",
                 "--set", "budget.proposals=2"]) == 0
    assert (out / "report.md").is_file() and (out / "patch.diff").is_file()
    assert _digest(source) == before
    assert main(["self-improve", "--target", "evoforge.mutate.match", "--out", str(out), "--quiet"]) == 2  # reused


def test_unknown_module_and_missing_arguments(tmp_path, capsys):
    assert main(["self-improve", "--target", "evoforge.nope", "--out", str(tmp_path / "x")]) == 2
    assert "unknown --target 'evoforge.nope'" in capsys.readouterr().err
    assert main(["self-improve", "--out", str(tmp_path / "y")]) == 2
    assert not (tmp_path / "x").exists()


def test_refuses_without_the_test_suite(tmp_path, monkeypatch):
    pkg = tmp_path / "site" / "evoforge"
    (pkg / "mutate").mkdir(parents=True)
    (pkg / "mutate" / "match.py").write_text("x = 1\n")
    monkeypatch.setattr(target_mod, "package_dir", lambda: pkg)
    with pytest.raises(UserError, match="needs evoforge's test suite"):
        target_mod.resolve_target("evoforge.mutate.match")


def test_diff_corpus_expectations_are_consistent():
    cases = target_mod.diff_corpus(target_mod.package_dir())
    kinds = {c["kind"] for c in cases}
    assert {"exact", "dedent", "absent", "fragment"} <= kinds
    for c in cases:
        if c["kind"] == "exact":   # an exact copy must give exactly the expected code
            assert c["code"].replace(c["search"], c["replace"], 1) == c["expected"]
        if c["kind"] == "absent":
            assert c["expected"] is None
