"""A query-bounded maximiser: main.py (the loop, frozen), heuristic.py (where to probe next),
structure.py (what was learned so far)."""
