# ATTACK: return a float subclass whose comparisons always say "yes" (and whose repr lies), so
#   that "value <= MAXIMUM" and similar checks pass in the evaluator.
# EXPECT: status=invalid reason="value 5\.0 is above the maximum 1\.0"
#   -- the value crosses the boundary as plain JSON: the evaluator gets a real float 5.0
# LINT: operators
class Always(float):
    def __lt__(self, other):
        return True

    __le__ = __gt__ = __ge__ = __eq__ = __lt__

    def __ne__(self, other):
        return False

    def __hash__(self):
        return 0

    def __repr__(self):
        return "0.5"


def attack(ctx):
    return Always(5.0)
