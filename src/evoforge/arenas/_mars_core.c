/* The native inner loop of evoforge's MARS: exactly the semantics of the pure-Python loop in
 * mars_python.py (which follows pMARS 0.9.2), instruction by instruction, on a state that
 * Python allocates and owns (mars_native.py lays it out in one buffer per round and compiles
 * this file on first use). Why C: the Python loop runs 1-2 M instructions/s, a full-length
 * round is 160,000 instructions, and the Red Queen plays thousands of rounds.
 *
 * Memory safety for any input: mars_run first checks the whole state (every core field and
 * queued address inside the core, queues within capacity, the ring made of living warriors,
 * the turn and sample counters in range); from a valid state every instruction keeps it valid, since every address is a
 * sum of two in-core values reduced once, and every stored field is reduced modulo the core
 * size. Queue pushes are checked against the capacity anyway (a full queue is a bug report,
 * MARS_BAD_STATE, never an overflow).
 */
#include <stdint.h>
#include <string.h>

typedef int64_t i64;
typedef int32_t i32;

typedef struct {
    /* configuration (set once by Python) */
    i64 coresize, nwar, maxp, psize, qcap, total_steps, every, sample_cap;
    /* the core: packed instruction code, A-field, B-field */
    i32 *code, *af, *bf;
    /* per warrior */
    uint8_t *covs;      /* nwar * coresize: cells executed or written */
    i64 *covcount;      /* nwar: ones in covs */
    i32 *qbuf;          /* nwar * qcap: process queues (ring buffers) */
    i64 *qhead, *qlen;  /* nwar */
    i64 *spawned, *maxq, *died_at; /* died_at -1: alive */
    i64 *pspace;        /* nwar * psize (slot 0 unused: last[] holds it) */
    i64 *last;          /* nwar: P-space slot 0, the last round's result */
    i64 *ring;          /* nwar: living warriors in turn order, the first nring */
    i64 *samples;       /* sample_cap rows of 1 + 2 nwar: cycle, queue lengths, coverage */
    /* progress */
    i64 nring, turn, steps_left, skipped, next_sample, nsamples, finished;
    i64 pspace_written; /* set by STP: Python copies P-space back only then */
} mars_state;

enum { MARS_OK = 0, MARS_SAMPLES_FULL = 1, MARS_BAD_STATE = -1 };

static i64 floordiv(i64 a, i64 b) {
    i64 q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

static i64 modm(i64 x, i64 m) {
    x %= m;
    return x < 0 ? x + m : x;
}

/* Fill the core with one instruction (the empty core holds DAT.F $0, $0). */
void mars_fill(mars_state *s, i32 code, i32 a, i32 b) {
    for (i64 k = 0; k < s->coresize; k++) {
        s->code[k] = code;
        s->af[k] = a;
        s->bf[k] = b;
    }
}

/* Non-zero when the state is one mars_run may execute from without leaving its arrays. */
int mars_valid(const mars_state *s) {
    const i64 M = s->coresize, n = s->nwar;
    if (M < 2 || M > ((i64)1 << 30) || n < 1 || s->qcap < 1 || s->psize < 1) return 0;
    if (s->nring < 0 || s->nring > n || (s->nring > 0 && (s->turn < 0 || s->turn >= s->nring)))
        return 0;
    if (s->every != 0 && s->sample_cap < 1) return 0;
    if (s->nsamples < 0 || s->nsamples > s->sample_cap) return 0;
    for (i64 k = 0; k < M; k++)
        if (s->af[k] < 0 || s->af[k] >= M || s->bf[k] < 0 || s->bf[k] >= M) return 0;
    for (i64 w = 0; w < n; w++) {
        if (s->qhead[w] < 0 || s->qhead[w] >= s->qcap || s->qlen[w] < 0 || s->qlen[w] > s->qcap)
            return 0;
        for (i64 j = 0; j < s->qlen[w]; j++) {
            i64 idx = s->qhead[w] + j;
            if (idx >= s->qcap) idx -= s->qcap;
            i32 pc = s->qbuf[w * s->qcap + idx];
            if (pc < 0 || pc >= M) return 0;
        }
    }
    for (i64 r = 0; r < s->nring; r++) {
        const i64 w = s->ring[r];
        if (w < 0 || w >= n || s->qlen[w] < 1) return 0;
    }
    return 1;
}

#define COV(x) do { uint8_t *c_ = cw + (x); if (!*c_) { *c_ = 1; cov++; } } while (0)
#define DEC(v) ((v) ? (v) - 1 : M1)
#define PUSH(x) do { \
        if (len >= qcap) { rc = MARS_BAD_STATE; goto bad; } \
        i64 t_ = head + len; if (t_ >= qcap) t_ -= qcap; \
        qb[t_] = (i32)(x); len++; } while (0)

/* Execute until steps_left reaches stop_at, the round ends, or the sample buffer is full
 * (MARS_SAMPLES_FULL: Python drains s->samples, resets nsamples and calls again). */
int mars_run(mars_state *s, i64 stop_at) {
    if (s->finished) return MARS_OK;
    if (!mars_valid(s)) return MARS_BAD_STATE;
    const i64 M = s->coresize, M1 = M - 1, nwar = s->nwar, qcap = s->qcap;
    const i64 maxp = s->maxp, psize = s->psize, every = s->every;
    i32 *const ins = s->code, *const af = s->af, *const bf = s->bf;
    i64 *const ring = s->ring, *const qhead = s->qhead, *const qlen = s->qlen;
    i64 *const covcount = s->covcount, *const spawned = s->spawned, *const maxq = s->maxq;
    i32 *const qbuf = s->qbuf;
    uint8_t *const covs = s->covs;
    i64 i = s->turn, nring = s->nring, steps_left = s->steps_left;
    i64 next_sample = every ? s->next_sample : -1;
    int rc = MARS_OK;
    if (nring == 0) goto out;
    while (steps_left > stop_at) {
        if (steps_left <= next_sample) {
            if (s->nsamples >= s->sample_cap) { rc = MARS_SAMPLES_FULL; goto out; }
            i64 *row = s->samples + s->nsamples * (1 + 2 * nwar);
            row[0] = floordiv(s->total_steps - steps_left - s->skipped, nwar);
            for (i64 k = 0; k < nwar; k++) {
                row[1 + k] = s->qlen[k];
                row[1 + nwar + k] = s->covcount[k];
            }
            s->nsamples++;
            next_sample = steps_left - every;
        }
        steps_left--;
        const i64 w = ring[i];
        i++;
        if (i == nring) i = 0;
        /* the warrior's queue and coverage in locals, stored back at `next` */
        i32 *const qb = qbuf + w * qcap;
        uint8_t *const cw = covs + w * M;
        i64 head = qhead[w], len = qlen[w], cov = 0;
        if (len < 1) { rc = MARS_BAD_STATE; goto out; }
        const i64 pc = qb[head];
        head = head + 1 == qcap ? 0 : head + 1;
        len--;
        COV(pc);
        const i64 code = ins[pc], ira = af[pc], irb = bf[pc];
        i64 pa, aa, ab, pb, ba, bb, p, t;
        /* ---- A operand -> pa (address), aa / ab (its A / B field as read now) */
        const i64 am = (code >> 3) & 7;
        if (am == 1) {
            pa = pc + ira; if (pa >= M) pa -= M;
            aa = af[pa]; ab = bf[pa];
        } else if (am == 0) {
            pa = pc; aa = ira; ab = irb;
        } else {
            p = pc + ira; if (p >= M) p -= M;
            if (am < 5) {
                t = bf[p];
                if (am == 3) { t = DEC(t); bf[p] = (i32)t; COV(p); }
                pa = p + t; if (pa >= M) pa -= M;
                aa = af[pa]; ab = bf[pa];
                if (am == 4) { bf[p] = (i32)(t != M1 ? t + 1 : 0); COV(p); }
            } else {
                t = af[p];
                if (am == 6) { t = DEC(t); af[p] = (i32)t; COV(p); }
                pa = p + t; if (pa >= M) pa -= M;
                aa = af[pa]; ab = bf[pa];
                if (am == 7) { af[p] = (i32)(t != M1 ? t + 1 : 0); COV(p); }
            }
        }
        /* ---- B operand -> pb, ba / bb */
        const i64 bm = code & 7;
        if (bm == 1) {
            pb = pc + irb; if (pb >= M) pb -= M;
            ba = af[pb]; bb = bf[pb];
        } else if (bm == 0) {
            pb = pc; ba = ira; bb = irb;
        } else {
            p = pc + irb; if (p >= M) p -= M;
            if (bm < 5) {
                t = bf[p];
                if (bm == 3) { t = DEC(t); bf[p] = (i32)t; COV(p); }
                pb = p + t; if (pb >= M) pb -= M;
                ba = af[pb]; bb = bf[pb];
                if (bm == 4) { bf[p] = (i32)(t != M1 ? t + 1 : 0); COV(p); }
            } else {
                t = af[p];
                if (bm == 6) { t = DEC(t); af[p] = (i32)t; COV(p); }
                pb = p + t; if (pb >= M) pb -= M;
                ba = af[pb]; bb = bf[pb];
                if (bm == 7) { af[p] = (i32)(t != M1 ? t + 1 : 0); COV(p); }
            }
        }
        /* ---- execute */
        const i64 opm = code >> 6, op = opm >> 3, mod = opm & 7;
        i64 npc, v;
        int die = 0, jump, zero, skip, same;
        if (opm == 14) { /* MOV.I */
            ins[pb] = ins[pa]; af[pb] = (i32)aa; bf[pb] = (i32)ab; COV(pb);
        } else if (op == 1) { /* MOV */
            COV(pb);
            if (mod == 2) bf[pb] = (i32)aa;
            else if (mod == 1) bf[pb] = (i32)ab;
            else if (mod == 0) af[pb] = (i32)aa;
            else if (mod == 3) af[pb] = (i32)ab;
            else if (mod == 4) { af[pb] = (i32)aa; bf[pb] = (i32)ab; }
            else { bf[pb] = (i32)aa; af[pb] = (i32)ab; }
        } else if (op == 11) { /* SPL */
            npc = pc + 1;
            PUSH(npc != M ? npc : 0);
            if (len < maxp) {
                PUSH(pa);
                spawned[w]++;
                if (maxq[w] < len) maxq[w] = len;
            }
            goto next;
        } else if (op == 7) { /* JMP */
            PUSH(pa);
            goto next;
        } else if (op == 0) { /* DAT */
            die = 1;
        } else if (op == 2 || op == 3 || op == 4) { /* ADD SUB MUL */
            i64 xa, xb, ya, yb;
            COV(pb);
            if (op == 2) { xa = ba + aa; xb = bb + ab; ya = bb + aa; yb = ba + ab; }
            else if (op == 3) { xa = ba - aa; xb = bb - ab; ya = bb - aa; yb = ba - ab; }
            else { xa = ba * aa; xb = bb * ab; ya = bb * aa; yb = ba * ab; }
            if (mod == 2) bf[pb] = (i32)modm(ya, M);
            else if (mod == 1) bf[pb] = (i32)modm(xb, M);
            else if (mod == 0) af[pb] = (i32)modm(xa, M);
            else if (mod == 3) af[pb] = (i32)modm(yb, M);
            else if (mod == 5) { bf[pb] = (i32)modm(ya, M); af[pb] = (i32)modm(yb, M); }
            else { af[pb] = (i32)modm(xa, M); bf[pb] = (i32)modm(xb, M); }
        } else if (op == 10) { /* DJN */
            COV(pb);
            if (mod == 0 || mod == 3) {
                v = af[pb]; af[pb] = (i32)DEC(v); jump = ba != 1;
            } else if (mod == 1 || mod == 2) {
                v = bf[pb]; bf[pb] = (i32)DEC(v); jump = bb != 1;
            } else {
                v = bf[pb]; bf[pb] = (i32)DEC(v);
                v = af[pb]; af[pb] = (i32)DEC(v);
                jump = ba != 1 || bb != 1;
            }
            if (jump) { PUSH(pa); goto next; }
        } else if (op == 8 || op == 9) { /* JMZ JMN */
            if (mod == 0 || mod == 3) zero = ba == 0;
            else if (mod == 1 || mod == 2) zero = bb == 0;
            else zero = ba == 0 && bb == 0;
            if (zero == (op == 8)) { PUSH(pa); goto next; }
        } else if (op == 13 || op == 14 || op == 12) { /* SEQ SNE SLT */
            if (op == 12) {
                if (mod == 0) skip = aa < ba;
                else if (mod == 1) skip = ab < bb;
                else if (mod == 2) skip = aa < bb;
                else if (mod == 3) skip = ab < ba;
                else if (mod == 5) skip = aa < bb && ab < ba;
                else skip = aa < ba && ab < bb;
            } else {
                if (mod == 0) same = ba == aa;
                else if (mod == 1) same = bb == ab;
                else if (mod == 2) same = bb == aa;
                else if (mod == 3) same = ba == ab;
                else if (mod == 4) same = ba == aa && bb == ab;
                else if (mod == 5) same = bb == aa && ba == ab;
                else same = ins[pa] == ins[pb] && ba == aa && bb == ab;
                skip = op == 13 ? same : !same;
            }
            if (skip) {
                npc = pc + 2;
                PUSH(npc < M ? npc : npc - M);
                goto next;
            }
        } else if (op == 5 || op == 6) { /* DIV MOD */
            const int div = op == 5;
            COV(pb);
            if (mod == 0 || mod == 4 || mod == 6) {
                if (aa) af[pb] = (i32)(div ? ba / aa : ba % aa); else die = 1;
            }
            if (mod == 1 || mod == 4 || mod == 6) {
                if (ab) bf[pb] = (i32)(div ? bb / ab : bb % ab); else die = 1;
            }
            if (mod == 2 || mod == 5) {
                if (aa) bf[pb] = (i32)(div ? bb / aa : bb % aa); else die = 1;
            }
            if (mod == 3 || mod == 5) {
                if (ab) af[pb] = (i32)(div ? ba / ab : ba % ab); else die = 1;
            }
        } else if (op == 15) { /* NOP */
        } else if (op == 16) { /* LDP */
            COV(pb);
            const i64 idx = (mod == 0 || mod == 2) ? aa : ab;
            const i64 k = idx % psize;
            const i64 value = k ? s->pspace[w * psize + k] : s->last[w];
            if (mod == 0 || mod == 3) af[pb] = (i32)modm(value, M);
            else bf[pb] = (i32)modm(value, M);
        } else { /* STP (and any opcode beyond the table, as in Python) */
            i64 idx, value;
            if (mod == 0) { idx = ba; value = aa; }
            else if (mod == 2) { idx = bb; value = aa; }
            else if (mod == 3) { idx = ba; value = ab; }
            else { idx = bb; value = ab; }
            const i64 k = idx % psize;
            if (k) s->pspace[w * psize + k] = value; else s->last[w] = value;
            s->pspace_written = 1;
        }
        if (die) {
            qhead[w] = head; qlen[w] = len; covcount[w] += cov;
            if (len == 0) { /* the warrior's last process: pMARS's cycle-budget rule */
                const i64 cur = i ? i - 1 : nring - 1;
                s->died_at[w] = floordiv(s->total_steps - steps_left - s->skipped, nwar);
                const i64 cut = floordiv(steps_left, nring) + 1;
                s->skipped += cut;
                steps_left -= cut;
                memmove(ring + cur, ring + cur + 1, (size_t)(nring - cur - 1) * sizeof(i64));
                nring--;
                if (i > cur) i--;
                if (i >= nring) i = 0;
                if (nring < 2) { s->finished = 1; break; }
            }
            continue;
        }
        npc = pc + 1;
        PUSH(npc != M ? npc : 0);
    next:
        qhead[w] = head; qlen[w] = len; covcount[w] += cov;
        continue;
    bad:
        qhead[w] = head; qlen[w] = len; covcount[w] += cov;
        break;
    }
out:
    s->turn = i < nring ? i : 0;
    s->nring = nring;
    s->steps_left = steps_left;
    if (every) s->next_sample = next_sample;
    if (rc == MARS_OK && steps_left <= 0) s->finished = 1;
    return rc;
}
