"""Split 20 into positive integers with the largest product."""


# EVOLVE-BLOCK-START
def parts():
    return [10, 10 - 8, 8]
# EVOLVE-BLOCK-END
