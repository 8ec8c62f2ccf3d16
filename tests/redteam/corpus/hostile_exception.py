# ATTACK: raise a BaseException subclass whose __str__ and __repr__ themselves raise, so that
#   describing the failure crashes the code that describes it.
# EXPECT: status=error reason="candidate process exited with code 1 before returning from attack\(\)"
class Hostile(BaseException):
    def __str__(self):
        raise RuntimeError("describe this!")

    __repr__ = __str__


def attack(ctx):
    raise Hostile()
