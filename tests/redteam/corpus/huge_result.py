# ATTACK: return a huge payload (8 MB of data) to exhaust the harness' memory.
# EXPECT: status=error reason="the value returned by attack\(\) is larger than the 1000000 bytes allowed"
def attack(ctx):
    return ["z" * 1000] * 8000
