"""A report's PDF: printed by the real headless Chromium when it is installed (scripts/test.sh
installs it), and a clear note instead of a PDF when no renderer is found or it fails."""
from __future__ import annotations

import os
import stat

import pytest

from evoforge.research.pdf import ENV, find_renderer, render_pdf
from evoforge.research.render import Block, to_html


def _report(tmp_path):
    blocks = [Block("h1", "A <b>study</b>"), Block("p", "The model wrote <script>alert(1)</script> here."),
              Block("table", rows=[["seed", "score"], ["500001", "0.1139 [abcd1234]"]]),
              Block("code", "- x = 1\n+ x = 2", items=["diff"])]
    html = tmp_path / "report.html"
    html.write_text(to_html(blocks, "A study"), encoding="utf-8")
    return html


def test_the_html_report_loads_nothing(tmp_path):
    text = _report(tmp_path).read_text()
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert "<script>" not in text and "&lt;script&gt;" in text


@pytest.mark.skipif(find_renderer() is None or os.environ.get(ENV, "").lower() == "none",
                    reason="no Chromium here (Debian package chromium; scripts/test.sh installs it)")
def test_chromium_prints_the_report(tmp_path):
    html = _report(tmp_path)
    done = render_pdf(html, tmp_path / "report.pdf")
    assert done.note is None and done.path == tmp_path / "report.pdf"
    data = done.path.read_bytes()
    assert data[:5] == b"%PDF-" and len(data) > 1000


def test_no_renderer_is_a_note_not_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, "none")
    done = render_pdf(_report(tmp_path), tmp_path / "report.pdf")
    assert done.path is None and ENV in done.note and not (tmp_path / "report.pdf").exists()
    monkeypatch.setenv(ENV, str(tmp_path / "no-such-browser"))
    done = render_pdf(_report(tmp_path), tmp_path / "report.pdf")
    assert done.path is None and "no PDF renderer found" in done.note and "no-such-browser" in done.note


def test_a_failing_renderer_is_reported_with_its_exit_code(tmp_path, monkeypatch):
    fake = tmp_path / "fake-browser"
    fake.write_text("#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(ENV, str(fake))
    done = render_pdf(_report(tmp_path), tmp_path / "report.pdf")
    assert done.path is None and "exit 3" in done.note and "cannot open display" in done.note


def test_a_renderer_that_writes_something_else_is_not_a_pdf(tmp_path, monkeypatch):
    fake = tmp_path / "fake-browser"
    fake.write_text("#!/bin/sh\nfor a; do case $a in --print-to-pdf=*) echo junk > \"${a#--print-to-pdf=}\";; esac; done\n")
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv(ENV, str(fake))
    done = render_pdf(_report(tmp_path), tmp_path / "report.pdf")
    assert done.path is None and "printed no PDF" in done.note
