"""Find a root of x**3 - 2*x - 5."""


# EVOLVE-BLOCK-START
def root():
    x = 1.0
    return x
# EVOLVE-BLOCK-END
