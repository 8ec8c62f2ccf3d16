"""Fit a line to data the evaluator holds."""


# EVOLVE-BLOCK-START
def fit():
    a = 0.0
    b = 0.0
    return a, b
# EVOLVE-BLOCK-END
