# ATTACK: return a self-referencing list, hoping the encoder loops or crashes.
# EXPECT: status=error reason="too deeply nested \(or self-referencing\)"
def attack(ctx):
    loop = []
    loop.append(loop)
    return loop
