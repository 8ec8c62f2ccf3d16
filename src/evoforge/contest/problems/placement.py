"""Strip packing: place rectangles in a strip of fixed width, as low as possible.

Written for evoforge. Each rectangle may be rotated by 90 degrees; rectangles may touch but
not overlap; everything must lie inside the strip ``0 <= x, x + w <= W, 0 <= y``. The used
height H is the top of the highest rectangle. Score of an instance:
``round(1e6 * total_area / (W * H))``, the fill ratio of the used part of the strip, in
(0, 1e6]; 1e6 means a perfect packing. Integer coordinates make the validation exact.
"""
from __future__ import annotations

import random
from typing import Any

from evoforge.contest.problem import InvalidOutput, Problem, as_int, as_list, int_tokens

STATEMENT = """\
Strip packing (placement).
solve(instance) receives a dict: "width": W (int), "rects": [[w, h], ...] (n of them,
20 <= n <= 60, integer sides). Return a list of n placements [x, y, r] (ints) in the same
order: r = 0 keeps the rectangle as (w, h), r = 1 rotates it to (h, w); it then occupies
[x, x + w') x [y, y + h'). Every rectangle must satisfy 0 <= x, x + w' <= W, 0 <= y, and no
two rectangles may overlap (touching is fine). H = max(y + h') is the used height.
Score per instance: 1e6 * (sum of areas) / (W * H) (higher is better; 1e6 is perfect).
Time limit: 2 seconds per instance (Python), measured from outside.
"""

MAX_COORD = 10**7


def placed(instance: dict[str, Any], output: Any) -> list[tuple[int, int, int, int]]:
    """Validated rectangles as (x0, y0, x1, y1); raises InvalidOutput."""
    rects, width = instance["rects"], instance["width"]
    rows = as_list(output, "the answer (one [x, y, r] per rectangle)", len(rects))
    boxes = []
    for i, (row, (w, h)) in enumerate(zip(rows, rects)):
        row = as_list(row, f"placement {i}", 3)
        x, y = as_int(row[0], f"x of rectangle {i}"), as_int(row[1], f"y of rectangle {i}")
        r = as_int(row[2], f"r of rectangle {i}")
        if r not in (0, 1):
            raise InvalidOutput(f"rectangle {i}: r must be 0 or 1, got {r}")
        if r:
            w, h = h, w
        if x < 0 or y < 0 or x + w > width or y > MAX_COORD:
            raise InvalidOutput(f"rectangle {i} at ({x}, {y}) size {w}x{h} leaves the strip "
                                f"of width {width}")
        boxes.append((x, y, x + w, y + h))
    overlap = first_overlap(boxes)
    if overlap:
        i, j = overlap
        raise InvalidOutput(f"rectangles {i} {boxes[i]} and {j} {boxes[j]} overlap")
    return boxes


def first_overlap(boxes: list[tuple[int, int, int, int]]) -> tuple[int, int] | None:
    """A pair of overlapping boxes, or None. Sweep over x: only boxes whose x-ranges
    intersect are compared, so it stays fast for long thin packings."""
    order = sorted(range(len(boxes)), key=lambda k: boxes[k][0])
    active: list[int] = []
    for k in order:
        x0, y0, x1, y1 = boxes[k]
        active = [a for a in active if boxes[a][2] > x0]
        for a in active:
            ax0, ay0, _ax1, ay1 = boxes[a]
            if ay0 < y1 and y0 < ay1 and ax0 < x1:
                return (min(a, k), max(a, k))
        active.append(k)
    return None


class Placement(Problem):
    name = "placement"
    statement = STATEMENT
    time_limit = 2.0

    def generate(self, seed: int) -> dict[str, Any]:
        """A mix of big, medium and thin pieces, so that rotation and order both matter."""
        rng = random.Random(f"placement-{seed}")
        width = rng.randint(60, 160)
        rects = []
        for _ in range(rng.randint(20, 60)):
            kind = rng.random()
            if kind < 0.2:
                w, h = rng.randint(width // 4, width // 2), rng.randint(width // 6, width // 3)
            elif kind < 0.5:
                w, h = rng.randint(2, width // 8 + 2), rng.randint(width // 4, width // 2)
            else:
                w, h = rng.randint(4, width // 4), rng.randint(4, width // 4)
            rects.append([w, h] if rng.random() < 0.5 else [h, w])
        return {"width": width, "rects": rects}

    def score(self, instance: dict[str, Any], output: Any) -> float:
        boxes = placed(instance, output)
        height = max(b[3] for b in boxes)
        area = sum(w * h for w, h in instance["rects"])
        return round(1e6 * area / (instance["width"] * height))

    def format_input(self, instance: dict[str, Any]) -> str:
        """``n W`` then n lines ``w h``."""
        lines = [f"{len(instance['rects'])} {instance['width']}"]
        lines += [f"{w} {h}" for w, h in instance["rects"]]
        return "\n".join(lines) + "\n"

    def parse_output(self, text: str) -> list[list[int]]:
        """n lines ``x y r``."""
        toks = int_tokens(text)
        if len(toks) % 3:
            raise InvalidOutput(f"{len(toks)} numbers: expected three per rectangle")
        return [toks[k:k + 3] for k in range(0, len(toks), 3)]
