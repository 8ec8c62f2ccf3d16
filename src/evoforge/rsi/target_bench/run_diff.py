"""Sandbox side of the diff-applier benchmark: apply each SEARCH/REPLACE case with the
candidate's evoforge and print the resulting code (or null when it refused) as JSON."""
import json
import sys

from evoforge.mutate.edits import apply_search_replace
from evoforge.mutate.result import EditError

cases = json.load(sys.stdin)
out = []
for case in cases:
    try:
        res = apply_search_replace(case["code"], [(case["search"], case["replace"])])
        out.append(res.code if res.ok else None)
    except EditError:
        out.append(None)
    except Exception as exc:  # noqa: BLE001 - a crash is a wrong answer, not a refusal
        out.append({"crash": f"{type(exc).__name__}: {exc}"[:200]})
sys.stdout.write("\n@@EVOFORGE-BENCH@@" + json.dumps(out))
