# ATTACK: return -inf (and, for a minimising task, an infinitely good score).
# EXPECT: status=invalid reason="score is not finite \(-inf\)"
def attack(ctx):
    return float("-inf")
