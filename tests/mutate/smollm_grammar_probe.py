"""Run SmolLM2-135M under the SEARCH/REPLACE grammar; print how many replies apply.

Run in a subprocess by test_mutate_grammar.py (a llama.cpp crash must not kill pytest).
Measured on 2 CPU cores (30 samples, circle-packing block): with the grammar 26/30 replies
applied and 20/30 children compiled; without it 1/20 applied.
"""
from __future__ import annotations

import sys

from evoforge.llm.embedded import embedded_provider
from evoforge.mutate import (
    apply_reply,
    build_messages,
    check_syntax,
    search_replace_grammar,
)

CODE = '''import numpy as np

# EVOLVE-BLOCK-START
def construct(n):
    centers = np.zeros((n, 2))
    for i in range(n):
        angle = 2 * np.pi * i / n
        centers[i] = [0.5 + 0.3 * np.cos(angle), 0.5 + 0.3 * np.sin(angle)]
    radii = np.full(n, 0.05)
    return centers, radii
# EVOLVE-BLOCK-END
'''

args = [a for a in sys.argv[1:] if a != "--bundle"]
samples = int(args[0]) if args else 5
provider = embedded_provider(n_ctx=2048, seed=0)
grammar = search_replace_grammar(CODE)
messages = build_messages(task_description="Place circles to maximize the sum of radii.",
                          parent_code=CODE, parent_score=1.3, parent_feedback="valid",
                          mode="diff", inspirations=[], insights=[], profile="small",
                          direction="maximize")
if "--bundle" in sys.argv:  # a folder program: the diff and tweak grammars make each edit name its file
    import os

    sys.path.insert(0, os.path.dirname(__file__))
    from mutate_fixtures import BUNDLE_FILES

    from evoforge.bundle import pack
    from evoforge.bundle_rules import child_violation
    from evoforge.mutate.tweak import tweak_grammar

    bundle = pack(BUNDLE_FILES)
    fine = total = 0
    for mode, constraint in (("diff", search_replace_grammar(bundle)), ("tweak", tweak_grammar(bundle))):
        asked = build_messages(task_description="Make solve() return a larger number.", parent_code=bundle,
                               parent_score=1.0, parent_feedback="", mode=mode, inspirations=[], insights=[],
                               profile="small", direction="maximize")
        for seed in range(samples):
            reply = provider.complete(asked, temperature=0.8, max_tokens=160, seed=seed, grammar=constraint).text
            result = apply_reply(bundle, reply, "diff")
            total += 1
            fine += (result.ok and child_violation(bundle, result.code) is None) or "unchanged" in result.reason
            print(mode, repr(reply), "->", result.reason)
    print(f"BUNDLE APPLIED {fine}/{total}")
    sys.exit(0)
applied = compiled = 0
for seed in range(samples):
    reply = provider.complete(messages, temperature=0.8, max_tokens=160, seed=seed, grammar=grammar).text
    result = apply_reply(CODE, reply, "diff")
    applied += result.ok or "unchanged" in result.reason
    compiled += result.ok and check_syntax(result.code) is None
    print(repr(reply), "->", result.reason)
print(f"APPLIED {applied}/{samples} COMPILED {compiled}/{samples}")
