"""Small statistics helpers."""


def median(values):
    """Median of a non-empty list of numbers."""
    if not values:
        raise ValueError("median of an empty list")
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid]
