"""The dashboard (``evoforge ui``) and shareable reports (``evoforge report``).

Everything here only *reads* run databases (storages are opened read-only), so a dashboard can
be left open next to a running search without any risk to it. The web app is plain JavaScript
and hand-written SVG bundled in ``assets/``: it works with no network at all.
"""
from __future__ import annotations

__all__ = ["RunRegistry", "serve", "write_report"]


def __getattr__(name: str):  # lazy: `evoforge --help` should not import the HTTP server
    if name == "RunRegistry":
        from .sources import RunRegistry

        return RunRegistry
    if name == "serve":
        from .server import serve

        return serve
    if name == "write_report":
        from .report import write_report

        return write_report
    raise AttributeError(name)
