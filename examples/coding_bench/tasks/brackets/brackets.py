"""Checking brackets."""


def is_balanced(text):
    """True if every (, [ and { is closed by the matching bracket in the right order."""
    return all(text.count(o) == text.count(c) for o, c in ("()", "[]", "{}"))
