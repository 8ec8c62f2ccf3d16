"""Commands beyond the core loop (dashboard, reports, model server, self-improvement),
each registered only if its module is present, so the core CLI never depends on them."""
from __future__ import annotations

import argparse
import importlib

EXTRA_COMMAND_MODULES = (
    "evoforge.safety.cli",
    "evoforge.llm.serve_cli",
    "evoforge.ui.cli",
    "evoforge.rsi.cli",
)


def add_extra_commands(sub: "argparse._SubParsersAction") -> None:
    for name in EXTRA_COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name or (exc.name and name.startswith(exc.name)):
                continue
            raise
        module.add_commands(sub)
