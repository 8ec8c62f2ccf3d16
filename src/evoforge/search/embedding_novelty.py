"""Novelty by embedding similarity (optional, as in ShinkaEvolve): a model edit whose code embeds
too close to a stored program's (cosine ≥ threshold) is rejected before evaluation.

Only programs' vectors are kept, in one matrix, capped to the most recent `capacity` (a check is
one matrix-vector product). Embedding calls are not model calls of the budget; a failed call lets
the proposal through (the cheaper filters already ran), and says why in the attempt's metrics.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np


class EmbeddingNovelty:
    def __init__(self, provider: Any, threshold: float = 0.98, capacity: int = 2000) -> None:
        self.provider = provider
        self.threshold = threshold
        self.capacity = capacity
        self._ids: list[str] = []
        self._matrix = np.zeros((0, 0), dtype=np.float32)
        self._pending: dict[str, np.ndarray] = {}   # attempt id -> vector, until it is a program
        self._lock = threading.Lock()

    @staticmethod
    def _unit(vec: list[float]) -> np.ndarray:
        v = np.asarray(vec, dtype=np.float32)
        n = float(np.linalg.norm(v))
        return v / n if n else v

    def check(self, attempt_id: str, code: str) -> tuple[bool, str]:
        """(novel?, why). Embeds `code` once; the vector is kept for `add` if it becomes a program."""
        vec = self._unit(self.provider.embed([code])[0])
        with self._lock:
            self._pending[attempt_id] = vec
            if not self._ids or self._matrix.shape[1] != vec.shape[0]:
                return True, "novel (no embedding stored)"
            sims = self._matrix @ vec
            best = int(np.argmax(sims))
            if float(sims[best]) >= self.threshold:
                return False, f"embedding similarity {float(sims[best]):.3f} ≥ {self.threshold} to program {self._ids[best][:8]}"
            return True, f"novel (closest embedding similarity {float(sims[best]):.3f})"

    def add(self, attempt_id: str, code: str | None = None) -> None:
        with self._lock:
            vec = self._pending.pop(attempt_id, None)
        if vec is None:
            if code is None:
                return
            vec = self._unit(self.provider.embed([code])[0])
        with self._lock:
            if self._matrix.size == 0:
                self._matrix = vec[None, :]
            elif self._matrix.shape[1] == vec.shape[0]:
                self._matrix = np.vstack([self._matrix, vec[None, :]])[-self.capacity:]
            else:
                return
            self._ids = (self._ids + [attempt_id])[-self.capacity:]

    def forget(self, attempt_id: str) -> None:
        with self._lock:
            self._pending.pop(attempt_id, None)
