"""Novelty rejection before evaluation: don't pay to evaluate a program we already have.

Two cheap tests, as in ShinkaEvolve. `normalized_ast_hash` catches exact duplicates up to
renaming of local variables, comments, docstrings and formatting (models love to "improve"
a program by renaming). `minhash_signature` + LSH banding catch near-duplicates (the same
program with one constant changed, a line reordered) in roughly constant time per check, so
the filter stays fast as the archive grows to 100k programs.
"""
from __future__ import annotations

import ast
import hashlib
import io
import re
import threading
import tokenize
from collections import OrderedDict
from collections.abc import Callable

import numpy as np

from .lsh_index import LSHIndex

__all__ = ["NoveltyFilter", "jaccard_estimate", "minhash_signature", "normalized_ast_hash", "signature_bytes",
           "signature_from_bytes"]

_SEEDS: dict[int, np.ndarray] = {}
# `NoveltyFilter.defer`: the stored programs' (ids, signature rows), in order
StoredSignatures = Callable[[], tuple[list[str], np.ndarray]]
_SKIP_TOKENS = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER}


class _Renamer(ast.NodeTransformer):
    """Renames bound names (assignment targets, arguments, except/match names) to v0, v1, ...
    by first appearance; free names (builtins, imports, functions the evaluator calls) stay."""

    def __init__(self, bound: set[str]) -> None:
        self.bound = bound
        self.names: dict[str, str] = {}

    def _n(self, name: str) -> str:
        return self.names.setdefault(name, f"v{len(self.names)}") if name in self.bound else name

    def visit_Name(self, node: ast.Name) -> ast.AST:
        node.id = self._n(node.id)
        return node

    def visit_arg(self, node: ast.arg) -> ast.AST:
        node.arg = self._n(node.arg)
        node.annotation = None
        return node

    def visit_keyword(self, node: ast.keyword) -> ast.AST:
        if node.arg:
            node.arg = self._n(node.arg)
        return self.generic_visit(node)

    def visit_Global(self, node: ast.Global) -> ast.AST:
        node.names = [self._n(n) for n in node.names]
        return node

    visit_Nonlocal = visit_Global  # type: ignore[assignment]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                node.body = body[1:] or [ast.Pass()]
        for attr in ("name",):  # ExceptHandler / MatchAs / MatchStar bind a plain string
            value = getattr(node, attr, None)
            if isinstance(value, str) and not isinstance(
                    node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.alias)):
                setattr(node, attr, self._n(value))
        return super().generic_visit(node)


def _bound_names(tree: ast.AST) -> set[str]:
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif type(node).__name__ in ("MatchAs", "MatchStar") and getattr(node, "name", None):
            bound.add(node.name)  # type: ignore[attr-defined]
    return bound


def normalized_ast_hash(code: str) -> str:
    """16 hex chars identifying the program up to renames, comments, docstrings, layout.

    Code that does not parse (or is not Python) falls back to a hash of its
    whitespace-normalized text, prefixed ``t`` so the two kinds never collide.
    """
    try:
        tree = ast.parse(code)
        tree = _Renamer(_bound_names(tree)).visit(tree)
        dumped = ast.dump(tree, annotate_fields=False, include_attributes=False)
        return hashlib.sha256(dumped.encode("utf-8")).hexdigest()[:16]
    except (SyntaxError, ValueError, RecursionError):
        text = re.sub(r"\s+", " ", code).strip()
        return "t" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:15]


def _tokens(code: str) -> list[str]:
    try:
        return [t.string if t.type not in (tokenize.INDENT, tokenize.DEDENT, tokenize.NEWLINE)
                else "\x00" + tokenize.tok_name[t.type]
                for t in tokenize.generate_tokens(io.StringIO(code).readline)
                if t.type not in _SKIP_TOKENS]
    except (tokenize.TokenError, SyntaxError, IndentationError):
        text = re.sub(r"//[^\n]*|/\*.*?\*/|#[^\n]*", " ", code, flags=re.DOTALL)
        return re.findall(r"\w+|[^\w\s]", text)


def _seeds(num_perm: int) -> np.ndarray:
    """Fixed per-slot seeds (so signatures are comparable across processes and runs)."""
    if num_perm not in _SEEDS:
        rng = np.random.default_rng(0x5EED)
        _SEEDS[num_perm] = rng.integers(0, np.iinfo(np.uint64).max, size=num_perm, dtype=np.uint64,
                                        endpoint=True)
    return _SEEDS[num_perm]


def _mix(z: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer (wrapping uint64 arithmetic): a strong bit mixer, so the slots
    behave like independent random permutations. A linear ``(a·x + b) mod p`` family does
    not when ``a·x`` rarely wraps: the slots then all pick the same minimum."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _signature(code: str, num_perm: int, shingle: int) -> np.ndarray:
    tokens = _tokens(code)
    width = max(1, min(shingle, len(tokens)))
    grams = {"\x1f".join(tokens[i:i + width]) for i in range(len(tokens) - width + 1)}
    if not grams:
        return np.full(num_perm, np.iinfo(np.uint64).max, dtype=np.uint64)
    x = np.fromiter((int.from_bytes(hashlib.blake2b(g.encode("utf-8"), digest_size=8).digest(), "little")
                     for g in grams), dtype=np.uint64, count=len(grams))
    with np.errstate(over="ignore"):
        return _mix(x[None, :] ^ _seeds(num_perm)[:, None]).min(axis=1)


def minhash_signature(code: str, num_perm: int = 64, shingle: int = 5) -> list[int]:
    """MinHash of the set of ``shingle``-token windows of the code (comments dropped)."""
    return [int(v) for v in _signature(code, num_perm, shingle)]


def jaccard_estimate(sig_a: list[int], sig_b: list[int]) -> float:
    """Fraction of equal MinHash slots: an unbiased estimate of the shingle-set Jaccard."""
    if len(sig_a) != len(sig_b) or not sig_a:
        raise ValueError("signatures must be non-empty and of equal length")
    return sum(x == y for x, y in zip(sig_a, sig_b)) / len(sig_a)


def _bands_for(threshold: float, num_perm: int) -> tuple[int, int]:
    """(bands, rows): the steepest banding that still makes a pair at ``threshold`` a
    candidate with probability ≥ 0.999 (few false candidates, almost no missed duplicates)."""
    for rows in range(num_perm, 0, -1):
        bands = num_perm // rows
        if 1 - (1 - threshold ** rows) ** bands >= 0.999:
            return bands, rows
    return num_perm, 1


def signature_bytes(sig: np.ndarray) -> bytes:
    """A signature as stored (little-endian uint64s): what `signature_from_bytes` reads back."""
    return np.asarray(sig, dtype="<u8").tobytes()


def signature_from_bytes(blob: bytes, num_perm: int) -> np.ndarray | None:
    """The stored signature, or None when it was made with another number of slots."""
    if blob is None or len(blob) != 8 * num_perm:
        return None
    return np.frombuffer(blob, dtype="<u8").astype(np.uint64)


class NoveltyFilter:
    """Archive-wide duplicate check: exact (normalized AST) then near (MinHash ≥ threshold).

    ``check`` looks at LSH buckets only, reading at most ``bucket_cap`` most recent ids per
    bucket and verifying at most ``max_candidates`` (those sharing the most bands first), so a
    check costs about the same with 100 or 100k programs stored. The index is compact
    (`LSHIndex`, under 1 KB per program) and can be filled from stored signatures
    (`add_signatures`) without the code. With ``exact=False`` the filter keeps no AST hashes:
    the engine asks its storage for those (an indexed column) instead of holding them all.
    """

    def __init__(self, threshold: float = 0.95, num_perm: int = 64, shingle: int = 5,
                 bucket_cap: int = 512, max_candidates: int = 256, *, exact: bool = True) -> None:
        if not 0.0 < threshold <= 1.0:
            raise ValueError("threshold must be in (0, 1]")
        self.threshold, self.num_perm, self.shingle = threshold, num_perm, shingle
        self.bands, self.rows = _bands_for(threshold, num_perm)
        self.bucket_cap, self.max_candidates = bucket_cap, max_candidates
        self.exact = exact
        self._by_hash: dict[str, str] = {}
        self._index = LSHIndex(num_perm, self.bands, self.rows)
        self._hashes: OrderedDict[str, str] = OrderedDict()
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.last_candidates = 0  # signatures compared by the last check (for tests, stats)
        self.computed = 0         # signatures computed from code (a restore from storage computes none)
        self._loader: StoredSignatures | None = None   # `defer`: the stored programs, not read yet
        self._early: dict[str, np.ndarray] = {}        # programs added before they were read
        self._load_lock = threading.Lock()

    def defer(self, loader: StoredSignatures) -> None:
        """Fill the index from `loader` the first time it is read, not now.

        Why: reading 100k stored signatures costs a second or two, and a resumed run that
        proposes only with operators never asks for a near-duplicate. Programs `add`ed before
        the first read go after the loaded ones (and are left out of them: a pending attempt
        re-evaluated since is stored by then), so the index is the one an eager load at resume
        followed by the same adds gives."""
        with self._load_lock:
            self._loader = loader

    def _ready(self) -> LSHIndex:
        if self._loader is not None:
            with self._load_lock:
                if self._loader is not None:
                    ids, sigs = self._loader()
                    if self._early:
                        keep = [i for i, pid in enumerate(ids) if pid not in self._early]
                        ids, sigs = [ids[i] for i in keep], sigs[keep]
                    if len(ids):
                        self._index.add_many(list(ids), np.asarray(sigs, dtype=np.uint64).reshape(len(ids), self.num_perm))
                    if self._early:
                        self._index.add_many(list(self._early), np.stack(list(self._early.values())))
                    self._loader, self._early = None, {}
        return self._index

    def program_ids(self) -> list[str]:
        """The indexed programs, in index order (the order ties between candidates are broken by)."""
        return list(self._ready().ids)

    @property
    def deferred(self) -> bool:
        """Whether the stored programs are still to be read (`defer`)."""
        return self._loader is not None

    def __len__(self) -> int:
        return len(self._ready())

    def __contains__(self, program_id: str) -> bool:
        return program_id in self._ready()

    @staticmethod
    def _remember(cache: OrderedDict, code: str, value):
        cache[code] = value
        if len(cache) > 16:
            cache.popitem(last=False)
        return value

    def ast_hash(self, code: str) -> str:
        """`normalized_ast_hash`, cached for the last few programs (a proposal asks several times)."""
        if code in self._hashes:
            self._hashes.move_to_end(code)
            return self._hashes[code]
        return self._remember(self._hashes, code, normalized_ast_hash(code))

    def signature(self, code: str) -> np.ndarray:
        if code in self._cache:
            self._cache.move_to_end(code)
            return self._cache[code]
        self.computed += 1
        return self._remember(self._cache, code, _signature(code, self.num_perm, self.shingle))

    def fingerprint(self, code: str) -> tuple[str, bytes]:
        """(normalized-AST hash, signature bytes): what the storage keeps per attempt."""
        return self.ast_hash(code), signature_bytes(self.signature(code))

    def _features(self, code: str) -> tuple[str, np.ndarray]:
        return self.ast_hash(code), self.signature(code)

    def most_similar(self, code: str) -> tuple[str | None, float]:
        """(program id, estimated Jaccard) of the closest stored near-duplicate candidate."""
        sig = self.signature(code)
        index = self._ready()
        rows = index.candidates(sig, self.bucket_cap, self.max_candidates)
        self.last_candidates = len(rows)
        if not rows:
            return None, 0.0
        sims = index.similarities(rows, sig)
        best = int(np.argmax(sims))
        return index.ids[rows[best]], float(sims[best])

    def check(self, code: str) -> tuple[bool, str]:
        """(is novel, why). Not novel: same normalized AST, or MinHash ≥ threshold."""
        if self.exact:
            digest = self.ast_hash(code)
            if digest in self._by_hash:
                return False, f"same normalized AST as program {self._by_hash[digest][:8]}"
        if self.threshold >= 1.0:
            return True, "novel (no identical normalized AST)"
        pid, sim = self.most_similar(code)
        if pid is not None and sim >= self.threshold:
            return False, f"MinHash similarity {sim:.2f} ≥ {self.threshold:.2f} to program {pid[:8]}"
        if pid is None:
            return True, "novel (no similar program stored)"
        return True, f"novel (closest MinHash similarity {sim:.2f}, program {pid[:8]})"

    def add(self, code: str, program_id: str) -> None:
        """Store a program (evaluated or not) so later duplicates of it are rejected."""
        if self.exact:
            self._by_hash.setdefault(self.ast_hash(code), program_id)
        if self._loader is not None:
            with self._load_lock:
                if self._loader is not None:   # not read yet: kept for after the stored programs
                    self._early.setdefault(program_id, self.signature(code))
                    return
        if program_id in self._index:
            return
        self._index.add_many([program_id], self.signature(code)[None, :])

    def add_signatures(self, ids: list[str], sigs: np.ndarray, ast_hashes: list[str] | None = None) -> None:
        """Store programs from their stored signatures (one row per id), no code needed."""
        if self.exact and ast_hashes is not None:
            for digest, pid in zip(ast_hashes, ids):
                self._by_hash.setdefault(digest, pid)
        if len(ids):
            self._ready().add_many(list(ids), np.asarray(sigs, dtype=np.uint64).reshape(len(ids), self.num_perm))
