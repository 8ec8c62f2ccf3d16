"""A near-duplicate index filled from stored signatures on first use (`NoveltyFilter.defer`) is
the index an eager fill followed by the same adds gives; a failed read is retried, nothing lost."""
from __future__ import annotations

import numpy as np
import pytest

from evoforge.search.novelty import NoveltyFilter


def _code(i: int) -> str:
    return f"def f(x):\n    y = x * {i % 7} + {i // 7}\n    return [y, {i}, 'k{i % 3}']\n"


def _stored(n: int) -> tuple[list[str], np.ndarray]:
    hasher = NoveltyFilter()
    return [f"p{i}" for i in range(n)], np.stack([hasher.signature(_code(i)) for i in range(n)])


def test_deferred_fill_with_early_adds_equals_eager_fill():
    """Programs told after the resume (re-evaluated pending ones among them) are stored by the time
    the index is read: they go after the programs stored at the resume, in the order told."""
    ids, sigs = _stored(70)   # what the store holds when the index is first read
    eager, lazy = NoveltyFilter(threshold=0.8), NoveltyFilter(threshold=0.8)
    eager.add_signatures(ids[:60], sigs[:60])   # what it held at the resume
    asked: list[int] = []

    def loader() -> tuple[list[str], np.ndarray]:
        asked.append(1)
        return ids, sigs

    lazy.defer(loader)
    for i in (65, 60, 69, 61, 62, 63, 64, 66, 67, 68):   # told after the resume, before any check
        eager.add(_code(i), f"p{i}")
        lazy.add(_code(i), f"p{i}")
    assert lazy.deferred and asked == []
    assert lazy.program_ids() == eager.program_ids()
    assert eager.program_ids()[60:62] == ["p65", "p60"]
    assert asked == [1] and not lazy.deferred
    for i in (2, 64, 80):
        assert lazy.check(_code(i)) == eager.check(_code(i))
        assert lazy.most_similar(_code(i)) == eager.most_similar(_code(i))


def test_a_failed_read_is_retried_and_keeps_the_early_adds():
    ids, sigs = _stored(10)
    calls = []

    def flaky() -> tuple[list[str], np.ndarray]:
        calls.append(1)
        if len(calls) == 1:
            raise OSError("database is locked")
        return ids, sigs

    lazy = NoveltyFilter()
    lazy.defer(flaky)
    lazy.add(_code(99), "p99")
    with pytest.raises(OSError):
        len(lazy)
    assert lazy.deferred
    assert lazy.program_ids() == ids + ["p99"]
    assert len(calls) == 2
