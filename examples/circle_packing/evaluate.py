"""Trusted evaluator for circle packing: strict feasibility, finite numbers only.

The candidate's pack() runs in a separate sandboxed process; only its returned plain data
(centers and radii) reaches this process, where every check is done.
"""
import math

from evoforge import Candidate, Result

N = 26
BEST_KNOWN = 2.635983
CPU_BUDGET_S = 10.0  # CPU seconds for pack(), its whole process tree: more processes do not buy more


def check(centers, radii, n=N):
    if not isinstance(centers, list) or not isinstance(radii, list):
        return False, "pack() must return (centers, radii) as two lists"
    if len(centers) != n or len(radii) != n:
        return False, f"expected {n} centers and {n} radii, got {len(centers)} and {len(radii)}"
    pts = []
    for i, (c, r) in enumerate(zip(centers, radii)):
        if not (isinstance(c, (list, tuple)) and len(c) == 2):
            return False, f"center {i} is not an [x, y] pair"
        try:
            x, y, r = float(c[0]), float(c[1]), float(r)
        except (TypeError, ValueError):
            return False, f"circle {i} has a non-numeric value"
        if not all(math.isfinite(v) for v in (x, y, r)):
            return False, f"circle {i} has a non-finite value"
        if r < 0:
            return False, f"circle {i} has a negative radius {r}"
        if x - r < 0 or x + r > 1 or y - r < 0 or y + r > 1:
            return False, f"circle {i} (x={x:.4f}, y={y:.4f}, r={r:.4f}) leaves the unit square"
        pts.append((x, y, r))
    for i in range(n):
        for j in range(i + 1, n):
            xi, yi, ri = pts[i]
            xj, yj, rj = pts[j]
            if math.hypot(xi - xj, yi - yj) < ri + rj:
                return False, f"circles {i} and {j} overlap"
    return True, ""


def evaluate(candidate: Candidate) -> Result:
    out = candidate.call("pack", N, timeout=30, cpu_budget_s=CPU_BUDGET_S)
    if not isinstance(out, (list, tuple)) or len(out) != 2:
        return Result.invalid("pack() must return a pair (centers, radii)")
    centers, radii = out
    ok, why = check(list(centers), list(radii))
    if not ok:
        return Result.invalid(why)
    total = float(sum(float(r) for r in radii))
    if total > BEST_KNOWN + 1e-6:
        return Result.invalid(f"sum of radii {total} exceeds the best known {BEST_KNOWN}: check the validator")
    smallest = min(float(r) for r in radii)
    return Result(
        score=total,
        feedback=f"sum of radii {total:.5f} (best known {BEST_KNOWN}); smallest radius {smallest:.4f}",
        metrics={"sum_radii": total, "min_radius": smallest, "gap_to_best": BEST_KNOWN - total},
    )
