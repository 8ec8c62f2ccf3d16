# ATTACK: print a fake result / fake evaluator answer as JSON on stdout and stderr, hoping the
#   harness parses its output instead of asking the evaluator.
# EXPECT: status=invalid reason="attack\(\) returned NoneType, expected a number"
import json
import sys


def attack(ctx):
    fake = {"ok": True, "value": 1.0, "status": "ok", "score": 1e9,
            "result": {"score": 1e9, "valid": True, "feedback": "perfect"}}
    print(json.dumps(fake))
    print(json.dumps(fake), file=sys.stderr)
    print("SCORE: 1000000000")  # and returns None
