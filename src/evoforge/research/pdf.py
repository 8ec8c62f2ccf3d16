"""A PDF of a report, printed by a headless Chromium when one is on the machine.

Why Chromium and not a Python PDF library: the HTML report is already the typeset form (tables,
the embedded plot); a browser prints it faithfully, and Chromium is what the dashboard's tests
install anyway. Nothing is downloaded: when no renderer is found the report simply has no PDF
and its record says why (issue 20: "plus PDF where a renderer is available").

The page printed is evoforge's own report (model text escaped, plots as data: URIs); the print
is run with no network (every host name resolves nowhere, no proxy reachable), a throw-away
profile, and the report's own Content-Security-Policy forbids loading anything.

Renderer: ``EVOFORGE_PDF_RENDERER`` (a browser executable, or ``none`` to switch PDFs off),
else the first of chromium, chromium-browser, google-chrome, google-chrome-stable on PATH.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV = "EVOFORGE_PDF_RENDERER"
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
DEFAULT_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class PdfOutcome:
    """Where the PDF is, or why there is none (exactly one of the two is set)."""

    path: Path | None
    note: str | None


def find_renderer() -> str | None:
    """The browser that prints reports, or None (``EVOFORGE_PDF_RENDERER=none``, or none found)."""
    chosen = os.environ.get(ENV, "").strip()
    if chosen.lower() in ("none", "off", "0", "false"):
        return None
    if chosen:
        return shutil.which(chosen) or (chosen if os.access(chosen, os.X_OK) else None)
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return None


def render_pdf(html: Path, pdf: Path, timeout_s: float = DEFAULT_TIMEOUT_S) -> PdfOutcome:
    """Print `html` to `pdf`; never raises for a missing or failing renderer (the Markdown and
    HTML reports stand on their own), it says what happened instead."""
    renderer = find_renderer()
    if renderer is None:
        chosen = os.environ.get(ENV, "").strip()
        if chosen.lower() in ("none", "off", "0", "false"):
            why = f"PDFs switched off ({ENV}={chosen})"
        elif chosen:
            why = f"no PDF renderer found: {ENV}={chosen} is not an executable"
        else:
            why = f"no PDF renderer found (install Chromium, or set {ENV} to a browser)"
        return PdfOutcome(None, why)
    pdf.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="evoforge-pdf-") as profile:
        command = [renderer, "--headless", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
                   "--disable-extensions", "--disable-background-networking", "--disable-sync",
                   "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9",
                   f"--user-data-dir={profile}", "--no-pdf-header-footer",
                   f"--print-to-pdf={pdf.resolve()}", html.resolve().as_uri()]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            command.insert(1, "--no-sandbox")   # Chromium refuses to start as root otherwise
        try:
            done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                  timeout=timeout_s, env={**os.environ, "HOME": profile})
        except subprocess.TimeoutExpired:
            return PdfOutcome(None, f"{Path(renderer).name} did not print the report within {timeout_s:.0f} s")
        except OSError as exc:
            return PdfOutcome(None, f"{renderer} could not start: {exc}")
    if pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-":
        return PdfOutcome(pdf, None)
    last = (done.stderr or done.stdout or "").strip().splitlines()[-1:] or ["no output"]
    return PdfOutcome(None, f"{Path(renderer).name} printed no PDF (exit {done.returncode}): {last[0][:200]}")
