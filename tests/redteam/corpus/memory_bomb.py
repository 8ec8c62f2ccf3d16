# ATTACK: memory bomb - allocate (and touch) 64 MiB chunks without end.
# EXPECT: status=error reason="candidate raised MemoryError.*\(memory limit exceeded\)"
def attack(ctx):
    hoard = []
    while True:
        chunk = bytearray(64 << 20)
        chunk[::4096] = b"\1" * len(chunk[::4096])
        hoard.append(chunk)
