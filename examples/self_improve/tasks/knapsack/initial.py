"""A small knapsack: pick items with total weight at most 15."""
ITEMS = [(10, 5), (40, 4), (30, 6), (50, 3), (35, 7), (12, 2), (25, 5), (8, 1), (45, 8), (20, 4)]


# EVOLVE-BLOCK-START
def choose():
    return [0, 1]
# EVOLVE-BLOCK-END
