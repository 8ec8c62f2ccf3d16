"""The embedded model's speed through evoforge's provider, next to llama.cpp's own numbers for the
same file (llama-cpp-python's `Llama` called directly, streaming, with the same settings), so the
overhead of our layer is visible.

    python benchmarks/bench_embedded.py [--tokens 128] [--repeats 3]

Prints time to first token (raw llama.cpp, streamed), generation tokens/s for both, and the
provider's tokens/s under a SEARCH/REPLACE grammar (constrained decoding has its own cost).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from evoforge.llm.embedded import LlamaCppProvider, _extra_buffers_disabled, embedded_model_path  # noqa: E402
from evoforge.mutate.grammar import search_replace_grammar  # noqa: E402

PROMPT = [{"role": "user", "content": "Write a Python function that returns the sum of the squares of a list."}]
PROGRAM = (Path(__file__).resolve().parents[1] / "examples/circle_packing/initial.py").read_text()


def raw_llama(tokens: int, repeats: int) -> tuple[list[float], list[float], list[float], list[float]]:
    import llama_cpp

    with _extra_buffers_disabled(llama_cpp):
        llm = llama_cpp.Llama(model_path=str(embedded_model_path()), n_ctx=2048, verbose=False)
    ttft, tps, e2e, latency = [], [], [], []
    for i in range(repeats):
        llm.reset()
        start = time.perf_counter()
        first = None
        n = 0
        for chunk in llm.create_chat_completion(PROMPT, max_tokens=tokens, temperature=0.7, seed=i, stream=True):
            delta = chunk["choices"][0].get("delta", {}).get("content")
            if delta:
                n += 1
                if first is None:
                    first = time.perf_counter()
        end = time.perf_counter()
        ttft.append((first or end) - start)
        tps.append(max(n - 1, 1) / max(end - (first or start), 1e-9))
        e2e.append(n / max(end - start, 1e-9))
        latency.append(end - start)
    return ttft, tps, e2e, latency


def provider_speed(tokens: int, repeats: int, grammar: str | None) -> tuple[list[float], list[float]]:
    provider = LlamaCppProvider(embedded_model_path(), n_ctx=2048, name="embedded")
    provider.complete(PROMPT, max_tokens=4)  # load outside the timing
    latency, tps = [], []
    for i in range(repeats):
        r = provider.complete(PROMPT, max_tokens=tokens, temperature=0.7, seed=i, grammar=grammar)
        latency.append(r.latency_s)
        tps.append(r.output_tokens / max(r.latency_s, 1e-9))
    return latency, tps


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tokens", type=int, default=128)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    ttft, raw_tps, raw_e2e, raw_lat = raw_llama(args.tokens, args.repeats)
    lat, prov_tps = provider_speed(args.tokens, args.repeats, None)
    glat, gram_tps = provider_speed(args.tokens, args.repeats, search_replace_grammar(PROGRAM))
    med = statistics.median
    print(f"SmolLM2-135M-Instruct Q4_1, {args.tokens} new tokens, median of {args.repeats}")
    print(f"{'path':46s} {'TTFT s':>8s} {'tokens/s':>9s} {'latency s':>10s}")
    print(f"{'llama.cpp streamed, generation only':46s} {med(ttft):8.3f} {med(raw_tps):9.1f} {med(raw_lat):10.3f}")
    print(f"{'llama.cpp streamed, end to end':46s} {'':>8s} {med(raw_e2e):9.1f} {med(raw_lat):10.3f}")
    print(f"{'evoforge provider':46s} {'':>8s} {med(prov_tps):9.1f} {med(lat):10.3f}")
    print(f"{'evoforge provider + SEARCH/REPLACE grammar':46s} {'':>8s} {med(gram_tps):9.1f} {med(glat):10.3f}")
    overhead = 100 * (1 - med(prov_tps) / med(raw_e2e)) if med(raw_e2e) else float("nan")
    print(f"provider overhead against llama.cpp end to end: {overhead:.0f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
