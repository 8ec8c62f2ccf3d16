"""``evoforge report``: one self-contained HTML file plus PNG plots, from a real run."""
from __future__ import annotations

import html
import importlib.util
import re
import sys

import pytest

from evoforge.cli import main as cli_main
from evoforge.errors import MissingExtraError, UserError
from evoforge.storage import open_storage, sqlite_url_for
from evoforge.ui.report import write_report

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="the report's plots need matplotlib (pip install 'evoforge[dashboard]')")

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def external_references(page: str) -> list[str]:
    """Every src/href/url() that would make a browser fetch something outside the file."""
    refs = re.findall(r"""(?:src|href|xlink:href|action)\s*=\s*["']?([^"'\s>]+)""", page, flags=re.IGNORECASE)
    refs += re.findall(r"url\(\s*['\"]?([^)'\"]+)", page, flags=re.IGNORECASE)
    refs += re.findall(r"@import\s+['\"]?([^'\";]+)", page, flags=re.IGNORECASE)
    return [r for r in refs if not r.startswith("#") and not r.startswith("data:")]


@needs_matplotlib
def test_report_is_self_contained_and_complete(ui_runs, storage_of, tmp_path):
    out = write_report(str(ui_runs.main), tmp_path / "share" / "report.html")
    page = out.read_text(encoding="utf-8")
    assert external_references(page) == []
    assert "<script" not in page.lower() and "<link" not in page.lower() and "<iframe" not in page.lower()
    store, info = storage_of(ui_runs.main)
    best = store.best_attempts(info.id, 1)[0]
    assert html.escape(best.code, quote=True) in page          # the best program, escaped
    assert page.count("<svg") >= 4                              # scores, cost, islands, genealogy, failures
    for section in ("Progress", "Genealogy", "Best programs", "Failures", "Models and proposal kinds", "Safety", "Insights"):
        assert f"<h2>{section}" in page
    assert "Raising VALUE in small steps" in page                # insights
    assert "evaluator output looks tampered with" in page        # safety alert
    assert re.search(r"\d+ model calls · \d+ evaluations</b><span>best reached after", page)  # sample efficiency
    pngs = sorted(p.name for p in (tmp_path / "share" / "report_plots").iterdir())
    assert {"scores.png", "scores_vs_cost.png", "genealogy.png"} <= set(pngs)
    for name in pngs:
        assert (tmp_path / "share" / "report_plots" / name).read_bytes().startswith(PNG_MAGIC)


@needs_matplotlib
def test_report_cli_defaults_to_the_run_folder(ui_runs, capsys):
    assert cli_main(["report", str(ui_runs.other), "--no-png"]) == 0
    page = (ui_runs.other / "report.html").read_text(encoding="utf-8")
    assert "no safety alert" in page and "no insight recorded" in page  # empty states, said plainly
    assert not (ui_runs.other / "report_plots").exists()
    assert "report written to" in capsys.readouterr().err


def test_report_of_a_run_without_attempts_is_a_user_error(tmp_path):
    db = tmp_path / "empty.db"
    store = open_storage(sqlite_url_for(db))
    store.create_run("empty", {"direction": "maximize"}, str(tmp_path))
    store.close()
    with pytest.raises(UserError, match="no attempts"):
        write_report(str(db), tmp_path / "r.html")


def test_missing_matplotlib_names_the_extra(ui_runs, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(MissingExtraError) as err:
        write_report(str(ui_runs.main), tmp_path / "r.html")
    assert err.value.extra == "dashboard" and "evoforge[dashboard]" in str(err.value)
