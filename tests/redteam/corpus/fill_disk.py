# ATTACK: fill the disk: write one file in the work folder without end.
# EXPECT: status=error reason="candidate raised OSError: \[Errno 27\] File too large"
def attack(ctx):
    block = b"\0" * (1 << 20)
    with open("filler.bin", "wb") as fh:
        while True:
            fh.write(block)
            fh.flush()
