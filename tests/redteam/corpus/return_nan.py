# ATTACK: return NaN: every comparison with NaN is False, so "score < best" checks pass.
# EXPECT: status=invalid reason="score is not finite \(NaN\)"
def attack(ctx):
    return float("nan")
