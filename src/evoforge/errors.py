"""Exception hierarchy.

`UserError` and its children are problems with what the user gave us (config, task folder,
storage path, model string). The CLI prints their message and exits with code 2, no traceback
unless ``--debug``. Anything else is a bug in evoforge or an environment failure.
"""
from __future__ import annotations


class EvoforgeError(Exception):
    """Base class of every error evoforge raises on purpose."""


class UserError(EvoforgeError):
    """Bad input from the user: exit code 2 in the CLI, a clear one-paragraph message."""


class ConfigError(UserError):
    """A config file or override is invalid (unknown key, wrong type, bad value)."""


class TaskError(UserError):
    """A task folder is missing, malformed or inconsistent."""


class StorageError(UserError):
    """A storage URL cannot be opened or written."""


class ModelSpecError(UserError):
    """A model string cannot be parsed or names an unknown provider."""


class MissingExtraError(UserError):
    """An optional dependency is not installed; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the optional package '{package}', which is not installed. "
            f"Install it with: pip install 'evoforge[{extra}]'"
        )
        self.package = package
        self.extra = extra


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency lazily, or raise `MissingExtraError` naming the extra."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise MissingExtraError(module.split(".")[0], extra, purpose) from exc
