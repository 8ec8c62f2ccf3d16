"""Reference solution for strip packing: a skyline bottom-left decoder + simulated annealing
over the order and orientations of the rectangles.

Plain and honest (swap / move / rotate moves, geometric cooling over 1.3 s) so that a user
can see how far evolution got from the shelf baseline in initial.py. It is also a valid
candidate program (it defines solve), so the evaluator scores it as is:

    python examples/contest_placement/reference_sa.py          # scores on the public seeds
"""
import math
import random
import time

TIME_BUDGET = 1.3  # seconds; the limit is 2 s per instance including interpreter start-up


def decode(width, sizes, order, rot):
    """Place rectangles in `order` at the lowest, then leftmost, skyline position.
    Returns (height, placements) with placements[i] = [x, y, r]."""
    sky = [[0, 0, width]]  # segments [x, y, w], left to right, covering [0, width)
    out = [None] * len(sizes)
    top = 0
    for i in order:
        w, h = sizes[i]
        r = rot[i]
        if r:
            w, h = h, w
        best = None
        for s in range(len(sky)):
            x = sky[s][0]
            if x + w > width:
                break
            y, k, covered = 0, s, 0
            while covered < w:
                y = max(y, sky[k][1])
                covered = sky[k][0] + sky[k][2] - x
                k += 1
            if best is None or y < best[0] or (y == best[0] and x < best[1]):
                best = (y, x)
        y, x = best
        out[i] = [x, y, r]
        top = max(top, y + h)
        # new skyline: cut [x, x + w) out and put one segment at y + h in its place
        new = []
        for sx, sy, sw in sky:
            if sx + sw <= x or sx >= x + w:
                new.append([sx, sy, sw])
                continue
            if sx < x:
                new.append([sx, sy, x - sx])
            if sx + sw > x + w:
                new.append([x + w, sy, sx + sw - x - w])
        new.append([x, y + h, w])
        new.sort()
        sky = []
        for seg in new:  # merge neighbours of equal height
            if sky and sky[-1][1] == seg[1]:
                sky[-1][2] += seg[2]
            else:
                sky.append(seg)
    return top, out


def solve(instance, seconds=TIME_BUDGET, seed=0):
    start = time.perf_counter()
    rng = random.Random(seed)
    width, sizes = instance["width"], [tuple(r) for r in instance["rects"]]
    n = len(sizes)
    # start: tallest first, each lying flat when it fits
    rot = [1 if h > w and h <= width else 0 for w, h in sizes]
    order = sorted(range(n), key=lambda i: -min(sizes[i]))
    height, placement = decode(width, sizes, order, rot)
    best_h, best = height, placement
    t0, t1 = 3.0, 0.2
    while True:
        frac = (time.perf_counter() - start) / seconds
        if frac >= 1:
            break
        temp = t0 * (t1 / t0) ** frac
        new_order, new_rot = order[:], rot[:]
        move = rng.random()
        if move < 0.4:
            i, j = rng.randrange(n), rng.randrange(n)
            new_order[i], new_order[j] = new_order[j], new_order[i]
        elif move < 0.7:
            item = new_order.pop(rng.randrange(n))
            new_order.insert(rng.randrange(n), item)
        else:
            k = rng.randrange(n)
            w, h = sizes[k]
            if max(w, h) > width:
                continue
            new_rot[k] ^= 1
        new_h, new_p = decode(width, sizes, new_order, new_rot)
        delta = new_h - height
        if delta <= 0 or rng.random() < math.exp(-delta / temp):
            order, rot, height = new_order, new_rot, new_h
            if new_h < best_h:
                best_h, best = new_h, new_p
    return best


if __name__ == "__main__":
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
    from evoforge.contest.problems import Placement

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import evaluate
    import initial

    problem = Placement()
    for label, seeds in (("public", evaluate.PUBLIC_SEEDS), ("private", evaluate.PRIVATE_SEEDS)):
        base = [problem.score(problem.generate(s), initial.solve(problem.generate(s))) for s in seeds]
        sa = [problem.score(problem.generate(s), solve(problem.generate(s))) for s in seeds]
        print(f"{label}: baseline mean {sum(base) / len(base):.0f}  SA mean {sum(sa) / len(sa):.0f}")
        print("   per seed baseline", base, "\n   per seed SA      ", sa)
