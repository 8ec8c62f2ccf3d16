# ATTACK: return an object (with a __reduce__ that would run code if it were ever unpickled)
#   instead of plain data.
# EXPECT: status=error reason="candidate returned a value that is not plain data: .* is a candidate\.Payload object"
# LINT: operators
import os


class Payload:
    def __reduce__(self):
        return (os.system, ("echo BREACH:unpickled",))

    def __float__(self):
        return 1.0


def attack(ctx):
    return Payload()
