"""tune_f: tune the constants (the evaluator reads them; see evaluate.py)."""


# EVOLVE-BLOCK-START
def params():
    x0 = 1.0
    x1 = 1.0
    x2 = 1.0
    return [x0, x1, x2]
# EVOLVE-BLOCK-END
