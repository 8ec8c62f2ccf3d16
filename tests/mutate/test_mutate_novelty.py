from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mutate_fixtures import PY_SINGLE

from evoforge.search.novelty import (
    NoveltyFilter,
    jaccard_estimate,
    minhash_signature,
    normalized_ast_hash,
)

RENAMED = PY_SINGLE.replace("total", "acc").replace("step", "delta").replace("(n)", "(count)") \
    .replace("range(n)", "range(count)").replace("0.5 * n", "0.5 * count")
REFORMATTED = (PY_SINGLE.replace('    """Return a score for n."""\n', "")
               .replace("total = 0.5 * n", "total = (0.5*n)  # halve")
               .replace("# tune me: 3", "") + "\n\n# trailing comment\n")


def test_ast_hash_ignores_renames_comments_docstrings_layout():
    h = normalized_ast_hash(PY_SINGLE)
    assert len(h) == 16
    assert normalized_ast_hash(RENAMED) == h
    assert normalized_ast_hash(REFORMATTED) == h


def test_ast_hash_sees_real_changes():
    h = normalized_ast_hash(PY_SINGLE)
    assert normalized_ast_hash(PY_SINGLE.replace("0.5 * n", "0.6 * n")) != h
    assert normalized_ast_hash(PY_SINGLE.replace("def pack", "def packer").replace("pack(26)", "packer(26)")) != h
    assert normalized_ast_hash("y = len(x)\n") != normalized_ast_hash("y = sum(x)\n")  # free names kept
    assert normalized_ast_hash("import math\nv = math.pi\n") != normalized_ast_hash("import cmath\nv = cmath.pi\n")


def test_ast_hash_keyword_args_follow_parameter_renames():
    a = "def f(alpha):\n    return alpha\nf(alpha=1)\n"
    b = "def f(beta):\n    return beta\nf(beta=1)\n"
    assert normalized_ast_hash(a) == normalized_ast_hash(b)


def test_ast_hash_fallback_for_unparseable_code():
    a, b = "int main() {  return 0; }", "int main() {\n    return 0;\n}"
    assert normalized_ast_hash(a) == normalized_ast_hash(b) and normalized_ast_hash(a).startswith("t")
    assert normalized_ast_hash(a) != normalized_ast_hash("int main() { return 1; }")


def test_minhash_basics():
    sig = minhash_signature(PY_SINGLE)
    assert len(sig) == 64 and sig == minhash_signature(PY_SINGLE)
    assert jaccard_estimate(sig, minhash_signature(PY_SINGLE + "# only a comment\n")) == 1.0
    assert jaccard_estimate(sig, minhash_signature("something else entirely = 1")) < 0.2
    assert len(minhash_signature("x", num_perm=128)) == 128
    assert jaccard_estimate(minhash_signature(""), minhash_signature("")) == 1.0
    with pytest.raises(ValueError):
        jaccard_estimate([1, 2], [1])


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000))
def test_property_minhash_tracks_true_jaccard(seed):
    rng = random.Random(seed)
    words = [f"w{i}" for i in range(400)]
    a = set(rng.sample(words, 150))
    b = set(rng.sample(sorted(a), rng.randint(60, 150))) | set(rng.sample(words, rng.randint(0, 80)))
    true = len(a & b) / len(a | b)
    sa = minhash_signature(" ".join(sorted(a)), num_perm=256, shingle=1)
    sb = minhash_signature(" ".join(sorted(b)), num_perm=256, shingle=1)
    assert abs(jaccard_estimate(sa, sb) - true) < 0.15


def _long_program(rng: random.Random, n: int = 60) -> str:
    ops = ["+", "-", "*"]
    lines = ["def solve(x0):"]
    for i in range(1, n):
        lines.append(f"    x{i} = x{rng.randrange(i)} {rng.choice(ops)} {rng.randint(1, 999)} * "
                     f"f{rng.randint(0, 99)}(x{rng.randrange(i)})")
    lines.append(f"    return x{n - 1}")
    return "\n".join(lines) + "\n"


def test_filter_rejects_renames_reformatting_and_near_duplicates():
    nf = NoveltyFilter(threshold=0.9)
    nf.add(PY_SINGLE, "3f2a9c00aa")
    novel, why = nf.check(RENAMED)
    assert not novel and why == "same normalized AST as program 3f2a9c00"
    assert not nf.check(REFORMATTED)[0]
    prog = _long_program(random.Random(1))
    nf.add(prog, "bbbb0000")
    near = prog.replace("x5 =", "x5 = 1 + ", 1)
    novel, why = nf.check(near)
    assert not novel and why.startswith("MinHash similarity") and "bbbb0000" in why and "≥ 0.90" in why
    novel, why = nf.check(_long_program(random.Random(2)))
    assert novel and why.startswith("novel")
    assert len(nf) == 2


def test_threshold_one_disables_minhash():
    nf = NoveltyFilter(threshold=1.0)
    prog = _long_program(random.Random(1))
    nf.add(prog, "p1")
    assert nf.check(prog.replace("x5 =", "x5 = 1 + ", 1))[0]
    assert not nf.check(prog)[0]


def test_lsh_checks_only_a_few_candidates_in_a_big_archive():
    """No linear scan: with 3000 unrelated programs stored, a check compares a handful."""
    rng = random.Random(0)
    nf = NoveltyFilter(threshold=0.95)
    programs = [_long_program(rng, 25) for _ in range(1500)]
    for i, p in enumerate(programs):
        nf.add(p, f"id{i:05d}")
    fresh = _long_program(random.Random(10_001), 25)
    assert nf.check(fresh)[0]
    assert nf.last_candidates < 20
    # a near-duplicate of a stored program is still found through its buckets
    twin = programs[1234].replace("return", "return 0 +")
    pid, sim = nf.most_similar(twin)
    assert pid == "id01234" and sim > 0.85 and nf.last_candidates < 20


def test_bands_are_chosen_for_the_threshold():
    nf = NoveltyFilter(threshold=0.95, num_perm=64)
    assert nf.bands * nf.rows <= 64
    p = nf.threshold ** nf.rows
    assert 1 - (1 - p) ** nf.bands >= 0.999
    with pytest.raises(ValueError):
        NoveltyFilter(threshold=0)
