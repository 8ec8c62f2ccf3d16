"""The pure-Python MARS engine: one round's state in lists and deques, and its inner loop.

The reference implementation of the semantics `mars.py` describes, and the fallback when the
native engine (`mars_native.py`) cannot be built or is switched off (``EVOFORGE_MARS=python``).
Why plain Python is still fast enough to be useful: the inner loop is one function with every
hot name bound to a local, the core is three flat lists (packed instruction code, A-field,
B-field) and the dispatch is ordered by how often warriors use each opcode. Statistics cost
two byte stores per instruction.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING

from evoforge.arenas.redcode import INITIAL_INSTRUCTION, Instruction, Warrior, decode

if TYPE_CHECKING:
    from evoforge.arenas.mars import MarsConfig

Sample = tuple[int, tuple[int, ...], tuple[int, ...]]


class PythonRound:
    """One round's state and inner loop (see `Simulation`, the public face of engines)."""

    name = "python"

    def __init__(self, warriors: Sequence[Warrior], positions: Sequence[int], config: MarsConfig,
                 starter: int, pspaces: list[list[int]], last_results: list[int],
                 stats_every: int) -> None:
        n, m = len(warriors), config.coresize
        self.config, self.nwar = config, n
        init = INITIAL_INSTRUCTION
        self.ins = [init.code] * m
        self.af = [init.a] * m
        self.bf = [init.b] * m
        self.queues: list[deque[int]] = []
        for w, pos in zip(warriors, positions):
            for k, ins in enumerate(w.instructions):
                addr = (pos + k) % m
                self.ins[addr], self.af[addr], self.bf[addr] = ins.code, ins.a % m, ins.b % m
            self.queues.append(deque([(pos + w.start) % m]))
        self.covs = [bytearray(m) for _ in range(n)]
        self.spawned = [0] * n
        self.maxq = [1] * n
        self.died_at: list[int | None] = [None] * n
        self.pspaces = pspaces
        self.last_results = last_results
        self.ring = [(starter + k) % n for k in range(n)]  # living warriors in turn order
        self.turn = 0
        self.total_steps = n * config.max_cycles
        self.steps_left = self.total_steps
        self.stats_every = stats_every
        self.samples: list[Sample] = []
        self._next_sample = self.steps_left
        self.skipped = 0  # budget removed by pMARS's rule when a warrior dies
        self.finished = False

    @property
    def executed(self) -> int:
        return self.total_steps - self.steps_left - self.skipped

    @property
    def cycle(self) -> int:
        return self.executed // self.nwar

    def instruction(self, addr: int) -> Instruction:
        a = addr % self.config.coresize
        return decode(self.ins[a], self.af[a], self.bf[a])

    def set_instruction(self, addr: int, ins: Instruction) -> None:
        a, m = addr % self.config.coresize, self.config.coresize
        self.ins[a], self.af[a], self.bf[a] = ins.code, ins.a % m, ins.b % m

    def processes(self, warrior: int) -> list[int]:
        return list(self.queues[warrior])

    def coverage(self, warrior: int) -> int:
        return self.covs[warrior].count(1)

    def stats(self, warrior: int) -> tuple[int, int, int, int | None]:
        """(spawned, max processes, coverage, died at) of one warrior."""
        return (self.spawned[warrior], self.maxq[warrior], self.covs[warrior].count(1),
                self.died_at[warrior])

    def survivors(self) -> list[int]:
        return sorted(self.ring)

    def _sample(self) -> None:
        self.samples.append((self.cycle, tuple(len(q) for q in self.queues),
                             tuple(c.count(1) for c in self.covs)))

    # -- the inner loop -----------------------------------------------------------------------
    def run(self, max_steps: int | None = None) -> bool:
        """Execute up to `max_steps` instructions (all that remain by default); True when
        the round is over (one warrior left of several, all dead, or no cycles left)."""
        if self.finished:
            return True
        M = self.config.coresize
        M1 = M - 1
        ins, af, bf = self.ins, self.af, self.bf
        queues, covs, spawned, maxq = self.queues, self.covs, self.spawned, self.maxq
        maxp = self.config.max_processes
        ring = self.ring
        nring = len(ring)
        nwar = self.nwar
        i = self.turn
        steps_left = self.steps_left
        budget = steps_left if max_steps is None else min(max_steps, steps_left)
        stop_at = steps_left - budget
        every = self.stats_every * nwar
        next_sample = self._next_sample if every else -1  # -1: never sample
        psize = len(self.pspaces[0])
        while steps_left > stop_at:
            if steps_left <= next_sample:
                self.steps_left = steps_left
                self._sample()
                next_sample = steps_left - every
            steps_left -= 1
            w = ring[i]
            i += 1
            if i == nring:
                i = 0
            q = queues[w]
            cw = covs[w]
            pc = q.popleft()
            cw[pc] = 1
            code = ins[pc]
            ira = af[pc]
            irb = bf[pc]
            # ---- A operand -> pa (address), aa / ab (its A / B field as read now)
            am = (code >> 3) & 7
            if am == 1:
                pa = pc + ira
                if pa >= M:
                    pa -= M
                aa = af[pa]
                ab = bf[pa]
            elif am == 0:
                pa = pc
                aa = ira
                ab = irb
            else:
                p = pc + ira
                if p >= M:
                    p -= M
                if am < 5:  # @ < > : through the pointer cell's B-field
                    t = bf[p]
                    if am == 3:
                        t = t - 1 if t else M1
                        bf[p] = t
                        cw[p] = 1
                    pa = p + t
                    if pa >= M:
                        pa -= M
                    aa = af[pa]
                    ab = bf[pa]
                    if am == 4:
                        bf[p] = t + 1 if t != M1 else 0
                        cw[p] = 1
                else:  # * { } : through its A-field
                    t = af[p]
                    if am == 6:
                        t = t - 1 if t else M1
                        af[p] = t
                        cw[p] = 1
                    pa = p + t
                    if pa >= M:
                        pa -= M
                    aa = af[pa]
                    ab = bf[pa]
                    if am == 7:
                        af[p] = t + 1 if t != M1 else 0
                        cw[p] = 1
            # ---- B operand -> pb, ba / bb
            bm = code & 7
            if bm == 1:
                pb = pc + irb
                if pb >= M:
                    pb -= M
                ba = af[pb]
                bb = bf[pb]
            elif bm == 0:
                pb = pc
                ba = ira
                bb = irb
            else:
                p = pc + irb
                if p >= M:
                    p -= M
                if bm < 5:
                    t = bf[p]
                    if bm == 3:
                        t = t - 1 if t else M1
                        bf[p] = t
                        cw[p] = 1
                    pb = p + t
                    if pb >= M:
                        pb -= M
                    ba = af[pb]
                    bb = bf[pb]
                    if bm == 4:
                        bf[p] = t + 1 if t != M1 else 0
                        cw[p] = 1
                else:
                    t = af[p]
                    if bm == 6:
                        t = t - 1 if t else M1
                        af[p] = t
                        cw[p] = 1
                    pb = p + t
                    if pb >= M:
                        pb -= M
                    ba = af[pb]
                    bb = bf[pb]
                    if bm == 7:
                        af[p] = t + 1 if t != M1 else 0
                        cw[p] = 1
            # ---- execute
            opm = code >> 6
            op = opm >> 3
            mod = opm & 7
            if opm == 14:  # MOV.I, the commonest instruction by far
                ins[pb] = ins[pa]
                af[pb] = aa
                bf[pb] = ab
                cw[pb] = 1
            elif op == 1:  # MOV
                cw[pb] = 1
                if mod == 2:
                    bf[pb] = aa
                elif mod == 1:
                    bf[pb] = ab
                elif mod == 0:
                    af[pb] = aa
                elif mod == 3:
                    af[pb] = ab
                elif mod == 4:
                    af[pb] = aa
                    bf[pb] = ab
                else:  # X
                    bf[pb] = aa
                    af[pb] = ab
            elif op == 11:  # SPL
                npc = pc + 1
                q.append(npc if npc != M else 0)
                if len(q) < maxp:
                    q.append(pa)
                    spawned[w] += 1
                    maxq[w] = max(maxq[w], len(q))
                continue
            elif op == 7:  # JMP
                q.append(pa)
                continue
            elif op == 0:  # DAT
                if not q:
                    steps_left, i, nring = self._kill(w, i, steps_left, nring)
                    if self.finished:
                        break
                continue
            elif op == 2 or op == 3 or op == 4:  # ADD SUB MUL
                cw[pb] = 1
                if op == 2:
                    x_a, x_b, y_a, y_b = ba + aa, bb + ab, bb + aa, ba + ab
                elif op == 3:
                    x_a, x_b, y_a, y_b = ba - aa, bb - ab, bb - aa, ba - ab
                else:
                    x_a, x_b, y_a, y_b = ba * aa, bb * ab, bb * aa, ba * ab
                if mod == 2:
                    bf[pb] = y_a % M
                elif mod == 1:
                    bf[pb] = x_b % M
                elif mod == 0:
                    af[pb] = x_a % M
                elif mod == 3:
                    af[pb] = y_b % M
                elif mod == 5:
                    bf[pb] = y_a % M
                    af[pb] = y_b % M
                else:  # F, I
                    af[pb] = x_a % M
                    bf[pb] = x_b % M
            elif op == 10:  # DJN
                cw[pb] = 1
                if mod == 0 or mod == 3:
                    v = af[pb]
                    af[pb] = v - 1 if v else M1
                    jump = ba != 1
                elif mod == 1 or mod == 2:
                    v = bf[pb]
                    bf[pb] = v - 1 if v else M1
                    jump = bb != 1
                else:
                    v = bf[pb]
                    bf[pb] = v - 1 if v else M1
                    v = af[pb]
                    af[pb] = v - 1 if v else M1
                    jump = ba != 1 or bb != 1
                if jump:
                    q.append(pa)
                    continue
            elif op == 8 or op == 9:  # JMZ JMN
                if mod == 0 or mod == 3:
                    zero = ba == 0
                elif mod == 1 or mod == 2:
                    zero = bb == 0
                else:  # F X I: both fields
                    zero = ba == 0 and bb == 0
                if zero == (op == 8):
                    q.append(pa)
                    continue
            elif op == 13 or op == 14 or op == 12:  # SEQ SNE SLT
                if op == 12:
                    if mod == 0:
                        skip = aa < ba
                    elif mod == 1:
                        skip = ab < bb
                    elif mod == 2:
                        skip = aa < bb
                    elif mod == 3:
                        skip = ab < ba
                    elif mod == 5:
                        skip = aa < bb and ab < ba
                    else:
                        skip = aa < ba and ab < bb
                else:
                    if mod == 0:
                        same = ba == aa
                    elif mod == 1:
                        same = bb == ab
                    elif mod == 2:
                        same = bb == aa
                    elif mod == 3:
                        same = ba == ab
                    elif mod == 4:
                        same = ba == aa and bb == ab
                    elif mod == 5:
                        same = bb == aa and ba == ab
                    else:
                        same = ins[pa] == ins[pb] and ba == aa and bb == ab
                    skip = same if op == 13 else not same
                if skip:
                    npc = pc + 2
                    q.append(npc if npc < M else npc - M)
                    continue
            elif op == 5 or op == 6:  # DIV MOD
                cw[pb] = 1
                div = op == 5
                die = False
                if mod == 0 or mod == 4 or mod == 6:
                    if aa:
                        af[pb] = ba // aa if div else ba % aa
                    else:
                        die = True
                if mod == 1 or mod == 4 or mod == 6:
                    if ab:
                        bf[pb] = bb // ab if div else bb % ab
                    else:
                        die = True
                if mod == 2 or mod == 5:
                    if aa:
                        bf[pb] = bb // aa if div else bb % aa
                    else:
                        die = True
                if mod == 3 or mod == 5:
                    if ab:
                        af[pb] = ba // ab if div else ba % ab
                    else:
                        die = True
                if die:
                    if not q:
                        steps_left, i, nring = self._kill(w, i, steps_left, nring)
                        if self.finished:
                            break
                    continue
            elif op == 15:  # NOP
                pass
            elif op == 16:  # LDP
                cw[pb] = 1
                idx = aa if mod == 0 or mod == 2 else ab
                k = idx % psize
                value = self.pspaces[w][k] if k else self.last_results[w]
                if mod == 0 or mod == 3:
                    af[pb] = value % M
                else:
                    bf[pb] = value % M
            else:  # STP
                if mod == 0:
                    idx, value = ba, aa
                elif mod == 2:
                    idx, value = bb, aa
                elif mod == 3:
                    idx, value = ba, ab
                else:
                    idx, value = bb, ab
                k = idx % psize
                if k:
                    self.pspaces[w][k] = value
                else:
                    self.last_results[w] = value
            npc = pc + 1
            q.append(npc if npc != M else 0)
        self.turn = i if i < len(ring) else 0
        self.steps_left = steps_left
        if every:
            self._next_sample = next_sample
        if steps_left <= 0:
            self.finished = True
        if self.finished and self.stats_every:
            self._sample()
        return self.finished

    def _kill(self, w: int, i: int, steps_left: int, nring: int) -> tuple[int, int, int]:
        """Remove warrior `w` (its last process died; `i` is the turn after its own);
        pMARS's cycle-budget rule."""
        cur = i - 1 if i else nring - 1
        self.died_at[w] = (self.total_steps - steps_left - self.skipped) // self.nwar
        cut = steps_left // nring + 1
        self.skipped += cut
        steps_left -= cut
        self.ring.pop(cur)
        nring -= 1
        if i > cur:
            i -= 1
        if i >= nring:
            i = 0
        if nring < 2:
            self.finished = True
        return steps_left, i, nring
