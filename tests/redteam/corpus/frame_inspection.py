# ATTACK: walk the caller frames and every object in the heap looking for the evaluator, its
#   hidden answer or the expected result, to return exactly that.
# EXPECT: status=ok reason="^$" -- nothing to find: the evaluator and its data live in another
#   process; the candidate's process only holds the worker and the request
import gc
import sys


def attack(ctx):
    frame, seen = sys._getframe(1), []
    while frame is not None:
        seen.extend(frame.f_globals)
        frame = frame.f_back
    found = [o for o in gc.get_objects() if isinstance(o, dict) and "hidden_answer" in str(o)[:10000]]
    if "evaluate" in seen or found:
        print("BREACH:found the evaluator", found[:1])
    return 0.5
