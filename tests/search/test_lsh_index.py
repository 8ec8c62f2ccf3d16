"""The compact LSH index finds what the band definition says it must, stays small, and gives the
same answers filled from stored signatures as filled from code."""
from __future__ import annotations

import random

import numpy as np

from evoforge.search.lsh_index import LSHIndex
from evoforge.search.novelty import NoveltyFilter, signature_bytes, signature_from_bytes


def _sigs(n, num_perm=64, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 2**63, size=(n, num_perm), dtype=np.uint64)
    base[1::3] = base[0::3][: len(base[1::3])]          # some exact copies
    base[2::3, :5] = 7                                    # and some sharing a first band
    return base


def test_candidates_are_exactly_the_rows_sharing_a_band():
    sigs = _sigs(3000)
    idx = LSHIndex(64, 7, 9)
    idx.add_many([f"p{i}" for i in range(2000)], sigs[:2000])   # sorted part
    idx.add_many([f"p{i}" for i in range(2000, 3000)], sigs[2000:])   # some of it in the unsorted tail
    keys = idx.band_keys(sigs)
    for q in (0, 2, 5, 2999):
        expected = {int(r) for r in np.flatnonzero((keys == keys[q]).any(axis=1))}
        got = set(idx.candidates(sigs[q], bucket_cap=10_000, max_candidates=10_000))
        assert got == expected and q in got


def test_caps_bound_the_work_per_lookup():
    sigs = np.tile(_sigs(1), (500, 1))   # 500 identical programs: one full bucket per band
    idx = LSHIndex(64, 7, 9)
    idx.add_many([f"p{i}" for i in range(500)], sigs)
    rows = idx.candidates(sigs[0], bucket_cap=20, max_candidates=8)
    assert len(rows) == 8 and min(rows) >= 480          # the most recent of the bucket


def test_ids_are_added_once_and_memory_stays_under_1kb_per_program():
    sigs = _sigs(20_000)
    idx = LSHIndex(64, 7, 9)
    ids = [f"{i:016x}" for i in range(20_000)]
    idx.add_many(ids, sigs)
    idx.add_many(ids[:10], sigs[:10])
    assert len(idx) == 20_000
    arrays = idx._sigs.nbytes + idx._keys.nbytes + sum(a.nbytes for a in idx._sorted_keys + idx._sorted_rows)
    assert arrays / len(idx) < 1024


def _program(rng):
    lines = [f"    x{j} = {rng.randint(0, 999)} * x{j - 1 if j else ''}{'' if j else 'seed'}" for j in range(8)]
    return "def f(seed):\n" + "\n".join(lines) + "\n    return x7\n"


def test_filled_from_stored_signatures_answers_as_filled_from_code():
    rng = random.Random(0)
    codes = [_program(rng) for _ in range(300)]
    from_code = NoveltyFilter(threshold=0.9)
    for i, c in enumerate(codes):
        from_code.add(c, f"p{i}")
    blobs = [from_code.fingerprint(c)[1] for c in codes]
    stored = NoveltyFilter(threshold=0.9)
    stored.add_signatures([f"p{i}" for i in range(300)],
                          np.stack([signature_from_bytes(b, 64) for b in blobs]),
                          [from_code.ast_hash(c) for c in codes])
    assert stored.computed == 0 and len(stored) == 300
    probe = codes[17].replace("return x7", "return x7 + 0")
    assert stored.most_similar(probe) == from_code.most_similar(probe)
    assert stored.check(codes[5])[0] is False and "same normalized AST" in stored.check(codes[5])[1]
    assert signature_from_bytes(signature_bytes(np.arange(64, dtype=np.uint64)), 32) is None
