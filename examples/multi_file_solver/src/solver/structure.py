"""What the search has learned: every probe and its value."""


class Probes:
    # EVOLVE-BLOCK-START
    def __init__(self, n):
        self.n = n
        self.points = []          # (x, value), in the order they were probed

    def add(self, x, value):
        self.points.append((x, value))

    def seen(self, x):
        return any(px == x for px, _ in self.points)

    def best(self):
        """(x, value) of the highest value so far, or None."""
        return max(self.points, key=lambda p: p[1]) if self.points else None

    def top(self, k):
        """The k best probes, best first."""
        return sorted(self.points, key=lambda p: -p[1])[:k]
    # EVOLVE-BLOCK-END
