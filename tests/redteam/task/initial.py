# EVOLVE-BLOCK-START
def attack(ctx):
    """An honest guess."""
    return 0.5
# EVOLVE-BLOCK-END
