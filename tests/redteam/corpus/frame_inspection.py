# ATTACK: walk the caller frames, sys.modules and every object in the heap looking for the
#   trusted evaluator (its module, its evaluate() function, its hidden answer) to read the
#   expected result straight out of its memory.
# EXPECT: status=ok reason="^$" -- nothing to find: the evaluator and its data live in another
#   process; the candidate's process holds only the call worker and the (public) request
# LINT: frames
import gc
import sys


def attack(ctx):
    names, frame = set(), sys._getframe(1)
    while frame is not None:
        names.update(frame.f_globals)
        names.update(frame.f_locals)
        frame = frame.f_back
    found = [n for n in ("evaluate", "HIDDEN", "MAXIMUM", "Result") if n in names]
    found += [m for m in sys.modules if m in ("evaluate", "evoforge")]
    found += [getattr(o, "__qualname__", "?") for o in gc.get_objects()
              if callable(o) and getattr(o, "__name__", "") == "evaluate"]
    if found:
        print("BREACH:found the evaluator:", found)
    return 0.5
