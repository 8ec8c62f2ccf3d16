"""Storage backends behind one protocol; open one with `open_storage(url)`."""
from .base import RunInfo, Storage, open_storage, sqlite_url_for

__all__ = ["RunInfo", "Storage", "open_storage", "sqlite_url_for"]
