"""Strip packing: the baseline, shelf packing (next-fit decreasing height).

solve(instance) -> one [x, y, r] per rectangle, in input order; see task.yaml.
"""


# EVOLVE-BLOCK-START
def solve(instance):
    """Lay every rectangle on its long side, sort by height, and fill shelves left to
    right; a rectangle that does not fit opens a new shelf on top of the last one."""
    width = instance["width"]
    rects = instance["rects"]
    items = []
    for i, (w, h) in enumerate(rects):
        r = 1 if h > w and h <= width else 0  # rotate so that the rectangle lies flat
        rw, rh = (h, w) if r else (w, h)
        items.append((rh, rw, i, r))
    items.sort(reverse=True)
    out = [None] * len(rects)
    x = shelf_y = shelf_h = 0
    for rh, rw, i, r in items:
        if x + rw > width:  # new shelf
            shelf_y += shelf_h
            x = shelf_h = 0
        out[i] = [x, shelf_y, r]
        x += rw
        shelf_h = max(shelf_h, rh)
    return out
# EVOLVE-BLOCK-END
