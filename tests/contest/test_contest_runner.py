"""evaluate_contest with real sandboxed candidates (Python and C++) on a toy problem."""
from __future__ import annotations

import shutil
import textwrap

import pytest

from evoforge.contest import InvalidOutput, Problem, evaluate_contest
from evoforge.contest.problem import int_tokens
from evoforge.sandbox import Candidate, CandidateError, CandidateTimeout


class Double(Problem):
    """Print twice the number; score = the number (so scores differ per seed)."""

    name = "double"
    time_limit = 0.5

    def generate(self, seed):
        return {"n": seed}

    def score(self, instance, output):
        if output != 2 * instance["n"]:
            raise InvalidOutput(f"expected {2 * instance['n']}, got {output!r}")
        return float(instance["n"])

    def format_input(self, instance):
        return f"{instance['n']}\n"

    def parse_output(self, text):
        toks = int_tokens(text)
        if len(toks) != 1:
            raise InvalidOutput(f"expected one number, got {len(toks)}")
        return toks[0]


def run(code, public=(1, 2, 3), private=(10, 20), filename="initial.py", **kw):
    with Candidate.create(textwrap.dedent(code), filename=filename) as cand:
        return evaluate_contest(cand, Double(), list(public), list(private), **kw)


def test_python_solution_scores_public_mean_and_private_separately():
    res = run("def solve(inst):\n    return inst['n'] * 2\n")
    assert res.valid and res.score == 2.0 and res.private_score == 15.0
    assert "seed 1" in res.feedback and "seed 10" not in res.feedback
    assert "seed_10" not in res.metrics and res.metrics["seed_3"] == 3.0


def test_invalid_public_output_makes_the_candidate_invalid_with_the_seed():
    res = run("def solve(inst):\n    return inst['n'] * 2 + (inst['n'] == 2)\n")
    assert not res.valid and "seed 2" in res.feedback and "expected 4, got 5" in res.feedback


def test_private_failures_score_zero_silently():
    res = run("""
        def solve(inst):
            if inst['n'] == 20:
                raise RuntimeError('boom')
            return inst['n'] * 2
    """)
    assert res.valid and res.private_score == 5.0 and "boom" not in res.feedback


def test_private_seeds_can_be_skipped():
    res = run("def solve(inst):\n    return inst['n'] * 2\n", run_private=False)
    assert res.private_score is None


def test_public_time_limit_is_enforced_from_outside():
    with pytest.raises(CandidateTimeout):
        run("import time\ndef solve(inst):\n    time.sleep(5)\n    return 0\n")


def test_public_crash_propagates_with_the_candidate_error():
    with pytest.raises(CandidateError, match="ZeroDivisionError"):
        run("def solve(inst):\n    return 1 / 0\n")


def test_arguments_are_checked():
    with pytest.raises(ValueError):
        run("def solve(inst):\n    return 0\n", public=())
    with pytest.raises(ValueError):
        run("def solve(inst):\n    return 0\n", language="rust")


needs_gpp = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
CPP_OK = """
#include <cstdio>
int main() { long n; if (std::scanf("%ld", &n) != 1) return 2; std::printf("%ld\\n", 2 * n); }
"""


@needs_gpp
def test_cpp_solution_is_compiled_and_run_in_the_sandbox():
    res = run(CPP_OK, filename="initial.cpp", language="cpp")
    assert res.valid and res.score == 2.0 and res.private_score == 15.0


@needs_gpp
def test_cpp_compile_error_is_invalid_with_the_compiler_message():
    res = run("int main() { return undefined_name; }\n", filename="initial.cpp",
              language="cpp")
    assert not res.valid and "compilation failed" in res.feedback
    assert "undefined_name" in res.feedback and "/tmp" not in res.feedback


@needs_gpp
def test_cpp_crash_and_timeout():
    with pytest.raises(CandidateError, match="exited with code 3"):
        run("int main() { return 3; }\n", filename="initial.cpp", language="cpp")
    with pytest.raises(CandidateTimeout, match="time limit"):
        run("int main() { volatile long x = 0; for (;;) x++; }\n", filename="initial.cpp",
            language="cpp")


@needs_gpp
def test_cpp_malformed_output_is_invalid():
    res = run('#include <cstdio>\nint main() { std::printf("two"); }\n', filename="initial.cpp",
              language="cpp")
    assert not res.valid and "not an integer" in res.feedback
