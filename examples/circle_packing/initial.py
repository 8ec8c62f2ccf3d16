"""Circle packing, n=26: a ring construction whose radii are then grown as far as they fit."""
import math


# EVOLVE-BLOCK-START
def place_centers(n):
    """One circle in the middle, an inner ring and an outer ring."""
    centers = [[0.5, 0.5]]
    inner = 8
    for i in range(inner):
        angle = 2 * math.pi * i / inner
        centers.append([0.5 + 0.22 * math.cos(angle), 0.5 + 0.22 * math.sin(angle)])
    outer = n - 1 - inner
    for i in range(outer):
        angle = 2 * math.pi * i / outer + 0.1
        centers.append([0.5 + 0.42 * math.cos(angle), 0.5 + 0.42 * math.sin(angle)])
    return [[min(max(x, 0.02), 0.98), min(max(y, 0.02), 0.98)] for x, y in centers]


def grow_radii(centers):
    """Largest radii that keep every circle inside the square and apart from the others."""
    n = len(centers)
    radii = [min(x, y, 1 - x, 1 - y) for x, y in centers]
    for _ in range(3):
        for i in range(n):
            for j in range(i + 1, n):
                d = math.dist(centers[i], centers[j])
                if radii[i] + radii[j] > d:
                    scale = d / (radii[i] + radii[j])
                    radii[i] *= scale
                    radii[j] *= scale
    return radii
# EVOLVE-BLOCK-END


def pack(n=26):
    centers = place_centers(n)
    radii = grow_radii(centers)
    return centers, radii
