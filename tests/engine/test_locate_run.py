"""Run references (`evoforge.engine.locate`): one reading for the CLI and the dashboard, on real
SQLite files — including the cases where the two former copies disagreed."""
from __future__ import annotations

import pytest

from evoforge.engine.locate import locate_run, mask_url, parse_run_ref
from evoforge.engine.session import locate_run as session_locate_run
from evoforge.errors import UserError
from evoforge.storage import open_storage, sqlite_url_for
from evoforge.ui.sources import RunRegistry


@pytest.fixture()
def two_runs(tmp_path):
    """A run folder whose run.db holds two runs, "first" and "second" (the latest)."""
    folder = tmp_path / "run-a"
    folder.mkdir()
    url = sqlite_url_for(folder / "run.db")
    store = open_storage(url)
    try:
        store.create_run("first", {"direction": "maximize"}, str(tmp_path), meta={"run_dir": str(folder)})
        store.create_run("second", {"direction": "maximize"}, str(tmp_path))
    finally:
        store.close()
    return folder, url


def _name(ref, **kw):
    store, info, folder = locate_run(ref, **kw)
    store.close()
    return info.name, folder


def test_session_exports_the_same_function():
    assert session_locate_run is locate_run


def test_every_form_of_reference(two_runs):
    folder, url = two_runs
    assert _name(folder) == ("second", folder)                          # run.db only: the latest run
    assert _name(folder / "run.db") == ("second", None)                 # a file: no folder known
    assert _name(url + "#first") == ("first", folder)                   # the folder the run recorded
    assert _name(url) == ("second", None)
    (folder / "storage.url").write_text(url + "\nfirst\n", encoding="utf-8")
    assert _name(folder) == ("first", folder)                           # storage.url pins a run


def test_a_blank_second_line_pins_nothing_for_both_readers(two_runs):
    folder, url = two_runs
    for text in (url + "\n\n", url + "\n   \n", url, url + "\r\n"):
        (folder / "storage.url").write_text(text, encoding="utf-8")
        assert parse_run_ref(folder).name is None
        assert _name(folder)[0] == "second"
        registry = RunRegistry([str(folder)])
        try:
            assert [h.info.name for h in registry.runs()] == ["first", "second"]   # the whole storage
        finally:
            registry.close()


def test_the_dashboard_and_the_cli_pin_the_same_run(two_runs):
    folder, url = two_runs
    (folder / "storage.url").write_text(url + "\nfirst\n", encoding="utf-8")
    registry = RunRegistry([str(folder), url + "#first"])
    try:
        assert [h.info.name for h in registry.runs()] == [_name(folder)[0]] == ["first"]
    finally:
        registry.close()


def test_bad_references_are_user_errors(two_runs, tmp_path):
    folder, url = two_runs
    with pytest.raises(UserError, match="not a run folder"):
        parse_run_ref(tmp_path)
    with pytest.raises(UserError, match="no run at"):
        parse_run_ref(tmp_path / "missing")
    with pytest.raises(UserError, match="no run given"):
        parse_run_ref("  ")
    (folder / "storage.url").write_text("\nfirst\n", encoding="utf-8")
    with pytest.raises(UserError, match="is empty"):
        parse_run_ref(folder)
    with pytest.raises(UserError, match="no run named 'nope'"):
        locate_run(url + "#nope")
    with pytest.raises(UserError, match="no run named 'nope'"):
        RunRegistry([url + "#nope"])


def test_passwords_never_reach_a_message():
    assert mask_url("postgresql://evo:s3cret@db:5432/runs#r1") == "postgresql://evo:***@db:5432/runs#r1"
    assert mask_url("sqlite:////tmp/run.db") == "sqlite:////tmp/run.db"
    ref = parse_run_ref("postgresql://evo:s3cret@db/runs#r1")
    assert (ref.url, ref.name, ref.folder) == ("postgresql://evo:s3cret@db/runs", "r1", None)
