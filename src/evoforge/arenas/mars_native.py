"""The native MARS engine: `_mars_core.c` compiled on first use, driven through ctypes.

Why compile at run time rather than ship a binary extension: the package stays pure Python
to install (any platform, no wheels to build), and the C file is one dependency-free loop
that any system compiler builds in about a second. The shared library is cached per user,
keyed by a hash of the source, the compiler and the flags, and written under a temporary
name then renamed, so concurrent processes never load a half-written file.

Selection (``EVOFORGE_MARS``): unset or ``auto`` uses the native engine when it builds and
falls back to the pure-Python one with one logged warning; ``python`` always uses Python;
``native`` makes a missing native engine an error (`NativeUnavailable`). ``CC`` names the
compiler (default ``cc``, then ``gcc``); ``EVOFORGE_MARS_CACHE`` the cache folder (default
``$XDG_CACHE_HOME/evoforge`` or ``~/.cache/evoforge``, else ``$TMPDIR/evoforge-<uid>``; a
folder others can write to is refused, since code is loaded from it).

Python owns all memory (one buffer per round, plus the P-space arrays); the C side checks
the whole state before every run, so nothing a caller passes can make it read or write
outside them. Rounds the C types cannot hold exactly (a core over 2^30 cells, P-space values
that are not 64-bit integers, two warriors sharing one P-space list...) quietly run in Python.
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import threading
from array import array
from collections.abc import Sequence
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

from evoforge.arenas.redcode import INITIAL_INSTRUCTION, Instruction, Warrior, decode

if TYPE_CHECKING:
    from evoforge.arenas.mars import MarsConfig

log = logging.getLogger(__name__)

SOURCE = Path(__file__).with_name("_mars_core.c")
CFLAGS = ("-O2", "-std=c99", "-shared", "-fPIC")
MODES = ("auto", "python", "native")
_I64 = ctypes.c_int64
_MAX_I64 = 2**63 - 1
_MAX_QUEUE_CELLS = 1 << 26   # queue entries over all warriors (256 MiB); beyond: Python
_MAX_CORE_CELLS = 1 << 30    # coverage bytes over all warriors; beyond: Python
_SAMPLE_ROWS = 4096
OK, SAMPLES_FULL, BAD_STATE = 0, 1, -1


class NativeUnavailable(RuntimeError):
    """The native engine could not be built or loaded (and ``EVOFORGE_MARS=native``)."""


class _FolderUnusable(NativeUnavailable):
    """A cache folder that cannot hold the library (the next one is tried)."""


_POINTERS = ("code", "af", "bf", "covs", "covcount", "qbuf", "qhead", "qlen", "spawned",
             "maxq", "died_at", "pspace", "last", "ring", "samples")


class _State(ctypes.Structure):
    """Mirror of `mars_state` in _mars_core.c (every member 8 bytes: no padding). Pointers
    are addresses inside one Python-owned buffer per round (see NativeRound)."""

    _fields_ = [(name, _I64) for name in ("coresize", "nwar", "maxp", "psize", "qcap",
                                           "total_steps", "every", "sample_cap")] + [
        (name, ctypes.c_void_p) for name in _POINTERS
    ] + [(name, _I64) for name in ("nring", "turn", "steps_left", "skipped", "next_sample",
                                    "nsamples", "finished", "pspace_written")]


def mode() -> str:
    """The engine choice from ``EVOFORGE_MARS`` (read on every round, so tests can switch)."""
    value = os.environ.get("EVOFORGE_MARS", "auto").strip().lower() or "auto"
    if value not in MODES:
        raise ValueError(f"EVOFORGE_MARS must be one of {', '.join(MODES)}, got {value!r}")
    return value


def _compiler() -> list[str] | None:
    if os.environ.get("CC"):
        return shlex.split(os.environ["CC"])
    exe = shutil.which("cc") or shutil.which("gcc")
    return [exe] if exe else None


def _cache_dirs() -> list[Path]:
    """Where the library may live: $EVOFORGE_MARS_CACHE alone when set, else the user's
    cache folder, then a private folder in the temporary directory (a home that is read-only,
    as in some sandboxes, must not cost the fast path)."""
    if os.environ.get("EVOFORGE_MARS_CACHE"):
        return [Path(os.environ["EVOFORGE_MARS_CACHE"])]
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return [Path(base) / "evoforge", Path(tempfile.gettempdir()) / f"evoforge-{uid}"]


def _private(folder: Path) -> None:
    """Create `folder` (mode 0700) and refuse one that another user could write to: we are
    about to load code from it."""
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
        raise _FolderUnusable(f"cache folder {folder} is not private to this user")


def build() -> Path:
    """Compile `_mars_core.c` into the cache (once per source/compiler/flags) and return the
    shared library's path. Raises `NativeUnavailable` with the reason."""
    cc = _compiler()
    if cc is None:
        raise NativeUnavailable("no C compiler (cc or gcc) on PATH and CC unset")
    try:
        source = SOURCE.read_bytes()
    except OSError as exc:
        raise NativeUnavailable(f"cannot read {SOURCE}: {exc}") from exc
    key = hashlib.sha256(b"\0".join([source, " ".join(cc).encode(), " ".join(CFLAGS).encode(),
                                     platform.machine().encode()])).hexdigest()[:16]
    name = f"mars_core-{key}.so"
    problems = []
    for folder in _cache_dirs():
        try:
            _private(folder)
            if (folder / name).exists():
                return folder / name
            return _compile(cc, folder, name)
        except (_FolderUnusable, OSError) as exc:
            problems.append(str(exc))
    raise NativeUnavailable("; ".join(problems))


def _compile(cc: list[str], folder: Path, name: str) -> Path:
    target = folder / name
    try:
        fd, tmp = tempfile.mkstemp(prefix=".mars_core-", suffix=".so", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise _FolderUnusable(f"cache folder {folder} not writable: {exc}") from exc
    try:
        proc = subprocess.run([*cc, *CFLAGS, "-o", tmp, str(SOURCE)], capture_output=True,
                              text=True, timeout=300, check=False)
        if proc.returncode != 0:
            raise NativeUnavailable(f"{' '.join(cc)} failed ({proc.returncode}): "
                                    f"{(proc.stderr or proc.stdout).strip()[-400:]}")
        os.replace(tmp, target)  # atomic: a concurrent builder's identical file is fine too
    except (OSError, subprocess.SubprocessError) as exc:
        raise NativeUnavailable(f"compiling {SOURCE.name} failed: {exc}") from exc
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


_lock = threading.Lock()
_loaded: list[ctypes.CDLL | NativeUnavailable] = []


def library() -> ctypes.CDLL:
    """The loaded native library (built on first call; the outcome is kept per process)."""
    with _lock:
        if not _loaded:
            try:
                lib = ctypes.CDLL(str(build()))
                lib.mars_run.argtypes = [ctypes.POINTER(_State), _I64]
                lib.mars_run.restype = ctypes.c_int
                lib.mars_fill.argtypes = [ctypes.POINTER(_State), ctypes.c_int32,
                                          ctypes.c_int32, ctypes.c_int32]
                lib.mars_fill.restype = None
                _loaded.append(lib)
            except (NativeUnavailable, OSError) as exc:
                _loaded.append(exc if isinstance(exc, NativeUnavailable)
                               else NativeUnavailable(f"loading the native MARS failed: {exc}"))
                if mode() == "auto":
                    log.warning("native MARS unavailable, using the pure-Python simulator "
                                "(about 50x slower): %s", _loaded[0])
        outcome = _loaded[0]
    if isinstance(outcome, NativeUnavailable):
        raise outcome
    return outcome


def available() -> bool:
    """True when the native engine is built and loadable here (builds it if needed)."""
    try:
        library()
    except NativeUnavailable:
        return False
    return True


def _fits(config: MarsConfig, n: int, stats_every: int) -> bool:
    """Whether the C types hold this configuration exactly (else the round runs in Python)."""
    m = config.coresize
    return (2 <= m <= 1 << 30 and n * m <= _MAX_CORE_CELLS
            and -_MAX_I64 // 4 <= n * config.max_cycles <= _MAX_I64 // 4
            and -_MAX_I64 // 4 <= stats_every * n <= _MAX_I64 // 4
            and n * _queue_capacity(config, n) <= _MAX_QUEUE_CELLS)


def _uses_pspace(code: int) -> bool:
    """LDP, STP, and every opcode beyond the table (the C loop runs those as STP)."""
    return not 0 <= code >> 9 < 16


def _pack(n: int, pspaces: list[list[int]], last: list[int]) -> tuple[array, array] | None:
    """P-space and last results as 64-bit arrays, or None when the C state cannot hold them
    exactly. Costs ~0.1 ms a round, so it is done only for warriors that can reach P-space:
    instructions only ever move (MOV.I) or have their fields changed, so a round whose
    warriors hold no LDP/STP never executes one."""
    if len(pspaces) < n or len(last) < n:
        return None
    psize = len(pspaces[0])
    lists = pspaces[:n]
    if psize < 1 or any(len(p) != psize for p in lists):
        return None
    if len({id(p) for p in lists} | {id(last)}) != n + 1:
        return None  # aliased lists: a write through one must show in the other at once
    try:  # array() refuses what is not an integer or does not fit 64 bits
        return array("q", chain.from_iterable(lists)), array("q", last[:n])
    except (TypeError, OverflowError):
        return None


_ITEM = {"i": 4, "q": 8, "B": 1}


def _offsets_by_name(layout: list[tuple[str, str, int]], offsets: list[int]) -> list[int]:
    """The buffer offsets of `layout`'s arrays in the order `_State` lists its pointers."""
    where = {name: off for (name, _, _), off in zip(layout, offsets)}
    return [where[name] for name in _POINTERS]


def _queue_capacity(config: MarsConfig, n: int) -> int:
    """The longest a queue can get: SPL adds a process only below `max_processes` (one
    process is always there to start) and at most one per instruction executed."""
    return max(1, min(config.max_processes, n * config.max_cycles + 1))


def open_round(warriors: Sequence[Warrior], positions: Sequence[int], config: MarsConfig,
               starter: int, pspaces: list[list[int]], last_results: list[int],
               stats_every: int) -> NativeRound | None:
    """A native round, or None when Python should run it (switched off, unavailable in
    ``auto`` mode, or a round the C types cannot hold)."""
    choice = mode()
    if choice == "python":
        return None
    try:
        lib = library()
    except NativeUnavailable:
        if choice == "native":
            raise
        return None
    n = len(warriors)
    if not pspaces or not _fits(config, n, stats_every):
        return None  # (Python's loop reads pspaces[0] on every run: it raises, as it did)
    codes = [ins.code for w in warriors for ins in w.instructions]
    if codes and not -2**31 <= min(codes) <= max(codes) < 2**31:
        return None
    packed = None
    if any(_uses_pspace(c) for c in codes):
        packed = _pack(n, pspaces, last_results)
        if packed is None:
            return None
    return NativeRound(lib, warriors, positions, config, starter, pspaces, last_results,
                       stats_every, packed, codes)


class NativeRound:
    """One round's state in ctypes arrays, run by `mars_run`; same interface as PythonRound."""

    name = "native"

    def __init__(self, lib: ctypes.CDLL, warriors: Sequence[Warrior], positions: Sequence[int],
                 config: MarsConfig, starter: int, pspaces: list[list[int]],
                 last_results: list[int], stats_every: int,
                 packed: tuple[array, array] | None, codes: list[int]) -> None:
        n, m = len(warriors), config.coresize
        self._lib, self.config, self.nwar = lib, config, n
        self.pspaces, self.last_results = pspaces, last_results
        self.stats_every = stats_every
        self.samples: list[tuple[int, tuple[int, ...], tuple[int, ...]]] = []
        total = n * config.max_cycles
        qcap = _queue_capacity(config, n)
        every = stats_every * n
        self._m, self._qcap = m, qcap
        rows = _SAMPLE_ROWS if every else 0
        # One zeroed buffer holds every array of the round (one allocation, one ctypes object:
        # a round costs ~0.1 ms less than with an array each); Python reads it through
        # memoryviews, C through the addresses in _State.
        layout = [("code", "i", m), ("af", "i", m), ("bf", "i", m), ("qbuf", "i", n * qcap),
                  ("covs", "B", n * m), ("covcount", "q", n), ("qhead", "q", n),
                  ("qlen", "q", n), ("spawned", "q", n), ("maxq", "q", n), ("died_at", "q", n),
                  ("ring", "q", n), ("pspace", "q", n), ("last", "q", n),
                  ("samples", "q", max(1, rows * (1 + 2 * n)))]
        offsets, size = [], 0
        for _, fmt, count in layout:
            offsets.append(size)
            size += -(-count * _ITEM[fmt] // 8) * 8  # keep every array 8-byte aligned
        self._buf = bytearray(size)
        self._anchor = ctypes.c_char.from_buffer(self._buf)  # pins the buffer; its address
        base = ctypes.addressof(self._anchor)
        whole = memoryview(self._buf)
        views = {}
        for (name, fmt, count), off in zip(layout, offsets):
            views[name] = whole[off:off + count * _ITEM[fmt]].cast(fmt)
        self._code, self._af, self._bf = views["code"], views["af"], views["bf"]
        self._qbuf, self._covs, self._covcount = views["qbuf"], views["covs"], views["covcount"]
        self._qhead, self._qlen, self._spawned = views["qhead"], views["qlen"], views["spawned"]
        self._maxq, self._died, self._ring = views["maxq"], views["died_at"], views["ring"]
        self._samples = views["samples"]
        for w in range(n):
            self._qlen[w] = self._maxq[w] = 1
            self._died[w] = -1
            self._ring[w] = (starter + w) % n
        self._packed: tuple[array, array] | None = None
        self._psize = 1  # P-space views stay zeros, never read, until _attach_pspace
        maxp = max(-_MAX_I64, min(config.max_processes, _MAX_I64))
        self._s = _State(m, n, maxp, 1, qcap, total, every, rows,
                         *[base + off for off in _offsets_by_name(layout, offsets)],
                         n, 0, total, 0, total, 0, 0, 0)
        self._ref = ctypes.byref(self._s)
        if packed is not None:
            self._attach_pspace(packed)
        init = INITIAL_INSTRUCTION
        lib.mars_fill(self._ref, init.code, init.a % m, init.b % m)
        code, af, bf = self._code, self._af, self._bf
        packed_codes = iter(codes)  # the warriors' instruction codes, in load order
        for k, (w, pos) in enumerate(zip(warriors, positions)):
            for j, ins in enumerate(w.instructions):
                addr = (pos + j) % m
                code[addr], af[addr], bf[addr] = next(packed_codes), ins.a % m, ins.b % m
            self._qbuf[k * qcap] = (pos + w.start) % m

    # -- the interface Simulation uses ----------------------------------------------------------
    @property
    def finished(self) -> bool:
        return bool(self._s.finished)

    @property
    def executed(self) -> int:
        s = self._s
        return s.total_steps - s.steps_left - s.skipped

    def instruction(self, addr: int) -> Instruction:
        a = addr % self._m
        return decode(self._code[a], self._af[a], self._bf[a])

    def set_instruction(self, addr: int, ins: Instruction) -> None:
        code = ins.code
        if not -2**31 <= code < 2**31:
            raise ValueError(f"instruction code {code} does not fit the native MARS")
        if self._packed is None and _uses_pspace(code):
            packed = _pack(self.nwar, self.pspaces, self.last_results)
            if packed is None:
                raise ValueError("P-space must be one list of 64-bit integers per warrior for "
                                 "the native MARS (EVOFORGE_MARS=python takes anything)")
            self._attach_pspace(packed)
        a, m = addr % self._m, self._m
        self._code[a], self._af[a], self._bf[a] = code, ins.a % m, ins.b % m

    def processes(self, warrior: int) -> list[int]:
        head, count, cap = self._qhead[warrior], self._qlen[warrior], self._qcap
        base = warrior * cap
        return [self._qbuf[base + (head + j) % cap] for j in range(count)]

    def coverage(self, warrior: int) -> int:
        return self._covcount[warrior]

    def stats(self, warrior: int) -> tuple[int, int, int, int | None]:
        died = self._died[warrior]
        return (self._spawned[warrior], self._maxq[warrior], self._covcount[warrior],
                None if died < 0 else died)

    def survivors(self) -> list[int]:
        return sorted(self._ring[:self._s.nring])

    def run(self, max_steps: int | None = None) -> bool:
        s = self._s
        if s.finished:
            return True
        steps_left = s.steps_left
        budget = steps_left if max_steps is None else min(max_steps, steps_left)
        stop_at = min(steps_left - budget, steps_left)  # a negative budget runs nothing
        while True:
            rc = self._lib.mars_run(self._ref, stop_at)
            self._drain()
            if rc != SAMPLES_FULL:
                break
        self._write_back()
        if rc == BAD_STATE:
            raise RuntimeError("native MARS refused an invalid state (a bug in evoforge)")
        if s.finished and self.stats_every:
            self._sample_now()
        return bool(s.finished)

    # -- helpers -------------------------------------------------------------------------------
    def _attach_pspace(self, packed: tuple[array, array]) -> None:
        psize = len(packed[0]) // self.nwar
        self._packed = packed  # C reads and writes these two arrays in place;
        self._pins = tuple(memoryview(a) for a in packed)  # exported arrays cannot move
        self._psize = psize
        self._s.psize = psize
        self._s.pspace = packed[0].buffer_info()[0]  # arrays never resized: stable addresses
        self._s.last = packed[1].buffer_info()[0]

    def _drain(self) -> None:
        s, n = self._s, self.nwar
        width = 1 + 2 * n
        flat = self._samples[:s.nsamples * width]
        for r in range(0, len(flat), width):
            self.samples.append((flat[r], tuple(flat[r + 1:r + 1 + n]),
                                 tuple(flat[r + 1 + n:r + width])))
        s.nsamples = 0

    def _sample_now(self) -> None:
        n = self.nwar
        self.samples.append((self.executed // n, tuple(self._qlen[:n]),
                             tuple(self._covcount[:n])))

    def _write_back(self) -> None:
        """Copy P-space back into the caller's lists (a battle hands them to the next round)
        when STP has written since the last copy."""
        if self._packed is None or not self._s.pspace_written:
            return
        self._s.pspace_written = 0
        ps, (flat, last) = self._psize, self._packed
        for w in range(self.nwar):
            self.pspaces[w][:] = flat[w * ps:(w + 1) * ps]
            self.last_results[w] = last[w]
