"""Flattening nested sequences."""
from collections.abc import Iterable


def flatten(items):
    """All non-sequence elements of a nested list/tuple structure, in order."""
    out = []
    for item in items:
        if isinstance(item, Iterable):
            out.extend(flatten(item))
        else:
            out.append(item)
    return out
