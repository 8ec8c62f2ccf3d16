"""A compact LSH index of MinHash signatures: numpy arrays instead of dicts of lists.

Why: the dict-of-lists index (a bytes key and a list per band per program, plus the signature
as its own array) cost about 3 KB per program and had to be rebuilt by re-hashing every
program's code on resume. Here a program costs one row of the signature matrix (8 bytes per
slot), one 64-bit key per band, and one entry per band in that band's sorted key array
(searched with `np.searchsorted`, so a lookup stays O(log N)); rows added since the last sort
sit in a short unsorted tail that is scanned, and merged in once it grows past a fraction of
the index. Restoring N stored signatures is one vectorized key computation and one sort per band.
"""
from __future__ import annotations

import numpy as np

__all__ = ["LSHIndex"]

_M1, _M2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


def _mix(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


class LSHIndex:
    """Signatures of programs, found by shared LSH bands. Not thread-safe (the caller locks)."""

    def __init__(self, num_perm: int, bands: int, rows: int) -> None:
        self.num_perm, self.bands, self.rows = num_perm, bands, rows
        self._sigs = np.empty((0, num_perm), dtype=np.uint64)
        self._keys = np.empty((0, bands), dtype=np.uint64)
        self._n = 0
        self.ids: list[str] = []
        self._row: dict[str, int] = {}
        self._sorted_keys = [np.empty(0, dtype=np.uint64) for _ in range(bands)]
        self._sorted_rows = [np.empty(0, dtype=np.int32) for _ in range(bands)]
        self._merged = 0   # rows [0, _merged) are in the sorted arrays; the rest is the tail

    def __len__(self) -> int:
        return self._n

    def __contains__(self, program_id: str) -> bool:
        return program_id in self._row

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(…, bands) 64-bit keys: each band's `rows` slots folded through a strong mixer."""
        part = sigs[..., : self.bands * self.rows].reshape(*sigs.shape[:-1], self.bands, self.rows)
        with np.errstate(over="ignore"):
            h = np.zeros(part.shape[:-1], dtype=np.uint64)
            for j in range(self.rows):
                h = _mix(h ^ part[..., j] ^ np.uint64(j + 1))
        return h

    def signature(self, program_id: str) -> np.ndarray:
        return self._sigs[self._row[program_id]]

    def add_many(self, ids: list[str], sigs: np.ndarray) -> None:
        """Append programs (ids already present are skipped)."""
        keep = [i for i, pid in enumerate(ids) if pid not in self._row]
        if len(keep) != len(ids):
            seen: set[str] = set()
            keep = [i for i in keep if not (ids[i] in seen or seen.add(ids[i]))]
        if not keep:
            return
        sigs = np.ascontiguousarray(sigs[keep], dtype=np.uint64)
        need = self._n + len(keep)
        if need > len(self._sigs):
            cap = max(need, len(self._sigs) + len(self._sigs) // 4 + 64)
            self._sigs = np.resize(self._sigs, (cap, self.num_perm)) if self._n else np.empty((cap, self.num_perm), np.uint64)
            self._keys = np.resize(self._keys, (cap, self.bands)) if self._n else np.empty((cap, self.bands), np.uint64)
        self._sigs[self._n:need] = sigs
        self._keys[self._n:need] = self.band_keys(sigs)
        for offset, i in enumerate(keep):
            pid = ids[i]
            self._row[pid] = self._n + offset
            self.ids.append(pid)
        self._n = need
        if self._n - self._merged > max(1024, self._merged // 8):
            self._sort()

    def _sort(self) -> None:
        for b in range(self.bands):
            col = self._keys[: self._n, b]
            order = np.argsort(col, kind="stable").astype(np.int32)   # stable: equal keys stay in insertion order
            self._sorted_rows[b] = order
            self._sorted_keys[b] = col[order]
        self._merged = self._n

    def candidates(self, sig: np.ndarray, bucket_cap: int, max_candidates: int) -> list[int]:
        """Rows sharing at least one band with `sig`: at most `bucket_cap` most recent per band,
        the `max_candidates` sharing the most bands first."""
        if not self._n:
            return []
        q = self.band_keys(sig[None, :])[0]
        tail = self._keys[self._merged: self._n] == q          # (tail rows, bands)
        found = []
        for b in range(self.bands):
            keys = self._sorted_keys[b]
            lo, hi = np.searchsorted(keys, q[b], "left"), np.searchsorted(keys, q[b], "right")
            rows = self._sorted_rows[b][lo:hi]
            more = np.flatnonzero(tail[:, b]).astype(np.int32) + self._merged
            hits = np.concatenate([rows, more]) if len(more) else rows
            found.append(hits[-bucket_cap:])
        allhits = np.concatenate(found)
        if not len(allhits):
            return []
        rows, counts = np.unique(allhits, return_counts=True)
        order = np.lexsort((-rows, -counts))[:max_candidates]   # most bands shared, then most recent
        return [int(r) for r in rows[order]]

    def similarities(self, rows: list[int], sig: np.ndarray) -> np.ndarray:
        return (self._sigs[rows] == sig).mean(axis=1)
