"""Estimate pi from the Leibniz series: accuracy against compute.

Only the two knobs inside the EVOLVE-BLOCK change; the routine below them is fixed, so every
proposal is a move in (TERMS, BLEND): more terms buy digits with CPU, a BLEND near 0.5 buys
digits for free (averaging two neighbouring partial sums cancels most of the alternating error).
"""

# EVOLVE-BLOCK-START
TERMS = 200000.0   # how many series terms to sum (more: more digits, more CPU)
BLEND = 0.2        # weight of the next partial sum averaged in (0.5 cancels the alternating error)
# EVOLVE-BLOCK-END


def estimate_pi() -> float:
    n = max(1, int(TERMS))
    total = 0.0
    sign = 1.0
    for k in range(n):
        total += sign / (2 * k + 1)
        sign = -sign
    following = total + sign / (2 * n + 1)   # the partial sum with one more term
    return 4.0 * ((1.0 - BLEND) * total + BLEND * following)
