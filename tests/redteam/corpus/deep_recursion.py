# ATTACK: recurse without end, hoping to crash the worker before it can answer.
# EXPECT: status=error reason="candidate raised RecursionError: maximum recursion depth exceeded"
def attack(ctx, depth=0):
    return attack(ctx, depth + 1)
