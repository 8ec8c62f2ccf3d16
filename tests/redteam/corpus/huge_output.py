# ATTACK: flood stdout and stderr (32 MB each) to exhaust the harness' memory or the database.
# EXPECT: status=ok reason="^$"
# CHECK: output_capped
import os


def attack(ctx):
    block = b"y" * (1 << 20)
    for _ in range(32):
        os.write(1, block)
        os.write(2, block)
    return 0.5
