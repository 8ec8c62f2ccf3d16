"""Interactive evaluation: counted queries from a sandboxed candidate to an oracle that stays in
the trusted process. Real sandboxed processes (Python, a shell script, a C program), no mocks.
Timing is never asserted: the "stops answering" case checks the reason, not the elapsed time."""
from __future__ import annotations

import math
import os
import textwrap

import pytest
from sandbox_helpers import HAS_BWRAP, needs_bwrap, new_marker

from evoforge import (
    Interaction,
    InteractionError,
    InteractionTimeout,
    InvalidQuery,
    QueryBudgetExceeded,
    QueryRejected,
)
from evoforge.sandbox import Candidate, CandidateError, CandidateTimeout
from evoforge.sandbox.isolation import IsolationLevel

BOWL = "lambda x, y: (x - 1) ** 2 + (y + 2) ** 2"


def bowl(x, y):
    return (x - 1) ** 2 + (y + 2) ** 2


@pytest.fixture
def cand():
    made: list[Candidate] = []

    def make(code: str, filename: str = "initial.py", **kw) -> Candidate:
        c = Candidate.create(textwrap.dedent(code), filename=filename, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


LOCAL_SEARCH = """
def search(f, budget, start=(0.0, 0.0)):
    x, y = start
    best = f(x, y)
    step = 1.0
    for _ in range(budget - 1):   # a line search along x, halving the step on failure
        nx, ny = x + step, y
        v = f(nx, ny)
        if v < best:
            x, y, best = nx, ny, v
        else:
            step = -step / 2
    print("searched", budget)
    return [x, y, best]
"""


def test_python_candidate_queries_the_oracle_and_returns(make_candidate):
    c = make_candidate(LOCAL_SEARCH)
    seen = []

    def oracle(x, y):
        seen.append((x, y))
        return bowl(x, y)

    s = c.interact("search", oracle, 30, max_queries=30, timeout=30, start=(3.0, -2.0))
    assert isinstance(s, Interaction)
    assert s.stopped == "returned" and s.queries == 30 == len(s.log) == len(seen)
    assert s.log[0] == ((3.0, -2.0), bowl(3.0, -2.0))
    assert s.value[2] == min(s.answers) and s.value[2] < 0.1
    assert "searched 30" in s.stdout and c.last_stdout == s.stdout
    assert s.cpu_seconds is None or s.cpu_seconds >= 0


def test_query_budget_exceeded_is_a_clear_candidate_error(make_candidate):
    c = make_candidate("""
        def search(f, budget):
            for i in range(10 * budget):   # brute force: far more than allowed
                f(i % 10 - 5.0, 0.0)
    """)
    with pytest.raises(QueryBudgetExceeded) as info:
        c.interact("search", bowl, 200, max_queries=200, timeout=30)
    err = info.value
    assert isinstance(err, CandidateError) and isinstance(err, InteractionError)
    assert "exceeded its query budget (201 > 200)" in err.summary
    # nothing lost: the session up to the refusal is there
    assert err.session.queries == 200 == len(err.session.log)
    assert err.session.stopped == err.summary


def test_a_candidate_that_catches_the_refusal_is_still_stopped(cand):
    c = cand("""
        def search(f):
            n = 0
            while True:
                try:
                    f(0.0, 0.0)
                    n += 1
                except Exception:
                    pass       # ignore the refusal and carry on
    """)
    with pytest.raises(QueryBudgetExceeded, match=r"\(6 > 5\)"):
        c.interact("search", bowl, max_queries=5, timeout=30)


def test_never_querying_is_invalid(cand):
    c = cand("def search(f, budget):\n    return [1.0, -2.0]\n")  # guesses, asks nothing
    with pytest.raises(InteractionError, match="never queried the oracle in search"):
        c.interact("search", bowl, 10, max_queries=10, timeout=30)
    s = c.interact("search", bowl, 10, max_queries=10, timeout=30, min_queries=0)
    assert s.queries == 0 and s.value == [1.0, -2.0]


def test_malformed_query_bytes(cand):
    c = cand("""
        def search(f):
            f(0.0, 0.0)
            # bypass the query callable: write garbage on its pipe
            cells = dict(zip(f.__code__.co_freevars, f.__closure__))
            up = cells["up"].cell_contents
            up.write(b"this is not json\\n")
            up.flush()
            return f(1.0, 1.0)
    """)
    with pytest.raises(InvalidQuery, match=r"malformed query #2.*in search\(\)") as info:
        c.interact("search", bowl, max_queries=10, timeout=30)
    assert info.value.session.queries == 1


def test_wrong_arity_and_rejected_queries(cand):
    c = cand("def search(f):\n    f(1.0)\n")
    with pytest.raises(InvalidQuery, match=r"invalid query #1 1\.0: missing a required argument"):
        c.interact("search", bowl, max_queries=10, timeout=30)

    def boxed(x, y):
        if abs(x) > 5 or abs(y) > 5:
            raise QueryRejected("outside the box [-5, 5]")
        return bowl(x, y)

    c = cand("def search(f):\n    f(0.0, 0.0)\n    f(99.0, 0.0)\n")
    with pytest.raises(InvalidQuery, match=r"invalid query #2 99\.0, 0\.0: outside the box"):
        c.interact("search", boxed, max_queries=10, timeout=30)


def test_query_too_large_is_refused(cand):
    c = cand("def search(f):\n    f('x' * 200_000, 0)\n")
    with pytest.raises(InvalidQuery, match="longer than 65536 bytes"):
        c.interact("search", bowl, max_queries=10, timeout=30)


def test_stops_answering_is_a_timeout_with_the_session(cand):
    c = cand("""
        import time
        def search(f):
            f(0.0, 0.0)
            time.sleep(3600)
    """)
    with pytest.raises(InteractionTimeout, match=r"stopped answering: timed out after 2\.0s in "
                       r"search\(\) after 1 query") as info:
        c.interact("search", bowl, max_queries=10, timeout=2)
    assert isinstance(info.value, CandidateTimeout)
    assert info.value.session.queries == 1


def test_killed_mid_session(cand):
    c = cand("""
        import os, signal
        def search(f):
            f(0.0, 0.0)
            f(1.0, 0.0)
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    with pytest.raises(InteractionError, match=r"died with SIGKILL in search\(\) after 2 "
                       r"queries") as info:
        c.interact("search", bowl, max_queries=10, timeout=30)
    assert [q for q, _ in info.value.session.log] == [(0.0, 0.0), (1.0, 0.0)]


def test_candidate_exception_keeps_the_session(cand):
    c = cand("def search(f):\n    f(0.0, 0.0)\n    return 1 / 0\n")
    with pytest.raises(InteractionError, match="ZeroDivisionError") as info:
        c.interact("search", bowl, max_queries=10, timeout=30)
    assert info.value.lineno == 3 and info.value.session.queries == 1


def test_numpy_queries_and_answers_are_plain_data(cand):
    np = pytest.importorskip("numpy")
    c = cand("""
        import numpy as np
        def search(f):
            g = f(np.array([1.0, 2.0, 3.0]))
            return float(g.sum())
    """)
    s = c.interact("search", lambda v: v * 2, max_queries=1, timeout=60)
    assert s.value == 12.0 and isinstance(s.log[0][0], np.ndarray)


def test_an_oracle_bug_is_the_evaluators_and_kills_the_candidate(cand):
    c = cand("def search(f):\n    f(0.0, 0.0)\n")

    def broken(x, y):
        raise RuntimeError("bug in the evaluator")

    with pytest.raises(RuntimeError, match="bug in the evaluator"):
        c.interact("search", broken, max_queries=10, timeout=30)


def test_the_secret_never_reaches_the_candidate(cand, tmp_path):
    """The oracle's data lives only in the evaluator's process: not in the candidate's
    memory (closures, globals, gc), environment or, under bwrap, its file system."""
    secret = new_marker()
    secret_file = tmp_path / "hidden_answer.txt"
    secret_file.write_text(secret)
    c = cand("""
        import gc, os, sys
        def search(f, path):
            found = []
            f(0.0, 0.0)
            try:
                found.append(open(path).read())
            except OSError as exc:
                found.append(type(exc).__name__)
            for obj in gc.get_objects():
                if isinstance(obj, str) and "evoforge-test-marker" in obj:
                    found.append(obj)
            found.extend(str(c.cell_contents) for c in (f.__closure__ or ()))
            found.append(repr(os.environ))
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        found.append(open(f"/proc/{pid}/cmdline", "rb").read().decode(errors="replace"))
                        found.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
                    except OSError:
                        pass
            return found
    """)

    def oracle(x, y):
        return len(secret) + x + y  # the oracle uses the secret; only its answer crosses

    s = c.interact("search", oracle, str(secret_file), max_queries=5, timeout=30)
    assert s.answers == [float(len(secret))]
    leaked = [item for item in s.value if secret in item]
    if c.isolation == IsolationLevel.BWRAP:
        assert s.value[0] == "FileNotFoundError" and not leaked
    else:  # unshare/none: the file system is readable (said aloud at start); memory is not
        assert all(item == s.value[0] for item in leaked)


@needs_bwrap
def test_the_task_folder_is_not_even_mounted(tmp_path):
    """Under bwrap, the evaluator's folder (where a hidden function's code lives) is absent."""
    hidden = tmp_path / "task"
    hidden.mkdir()
    (hidden / "evaluate.py").write_text("SECRET_MINIMUM = (1.2345, -0.5)\n")
    with Candidate.create("import os\ndef search(f, d):\n    f(0.0, 0.0)\n"
                          "    return os.path.exists(d)\n", isolation="bwrap") as c:
        assert c.interact("search", bowl, str(hidden), max_queries=1, timeout=30).value is False


# -- programs in other languages: the line protocol -------------------------------------------
BISECT_SH = """\
#!/bin/sh
# guess the hidden number in [0, n) by bisection: ? x -> "yes" when secret <= x
read n
lo=0
hi=$((n - 1))
while [ "$lo" -lt "$hi" ]; do
  mid=$(((lo + hi) / 2))
  echo "? $mid"
  read answer
  if [ "$answer" = "yes" ]; then hi=$mid; else lo=$((mid + 1)); fi
done
echo "! $lo"
"""


def at_most(secret):
    def oracle(query: str) -> str:
        try:
            x = int(query)
        except ValueError:
            raise QueryRejected(f"{query!r} is not an integer") from None
        return "yes" if secret <= x else "no"
    return oracle


def test_shell_program_line_protocol(cand):
    c = cand(BISECT_SH, filename="guess.sh")
    s = c.interact(["sh", "{program}"], at_most(737), max_queries=10, timeout=30,
                   stdin="1000\n")
    assert s.stopped == "answered" and s.value == "737" and s.queries == 10
    assert all(isinstance(q, str) and a in ("yes", "no") for q, a in s.log)


def test_shell_program_over_budget(cand):
    c = cand(BISECT_SH, filename="guess.sh")
    with pytest.raises(QueryBudgetExceeded, match=r"exceeded its query budget \(6 > 5\)"):
        c.interact(["sh", "{program}"], at_most(737), max_queries=5, timeout=30,
                   stdin="1000\n")


def test_program_that_prints_garbage_or_fails(cand):
    c = cand('#!/bin/sh\necho "? 1"\nread a\necho "hello there"\n', filename="p.sh")
    with pytest.raises(InvalidQuery, match=r"line 2 'hello there'.*neither a query"):
        c.interact(["sh", "{program}"], at_most(3), max_queries=5, timeout=30)
    c = cand('#!/bin/sh\necho "? 1"\nread a\nexit 3\n', filename="q.sh")
    with pytest.raises(InteractionError, match=r"exited with code 3 in sh after 1 query"):
        c.interact(["sh", "{program}"], at_most(3), max_queries=5, timeout=30)
    c = cand('#!/bin/sh\necho "? 1"\nread a\nsleep 3600\n', filename="r.sh")
    with pytest.raises(InteractionTimeout, match="stopped answering"):
        c.interact(["sh", "{program}"], at_most(3), max_queries=5, timeout=2)
    c = cand('#!/bin/sh\necho "? one"\nread a\n', filename="s.sh")
    with pytest.raises(InvalidQuery, match="'one' is not an integer"):
        c.interact(["sh", "{program}"], at_most(3), max_queries=5, timeout=30)
    c = cand('#!/bin/sh\necho "! 42"\n', filename="t.sh")
    with pytest.raises(InteractionError, match="never queried"):
        c.interact(["sh", "{program}"], at_most(3), max_queries=5, timeout=30)


BISECT_C = r"""
#include <stdio.h>
int main(void) {
    int n; char answer[16];
    if (scanf("%d", &n) != 1) return 2;
    int lo = 0, hi = n - 1;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        printf("? %d\n", mid);
        fflush(stdout);                       /* interactive: flush after every query */
        if (scanf("%15s", answer) != 1) return 3;
        if (answer[0] == 'y') hi = mid; else lo = mid + 1;
    }
    printf("! %d\n", lo);
    return 0;
}
"""


def test_c_program_compiled_in_the_sandbox(cand):
    import shutil

    if not shutil.which("gcc"):
        pytest.skip("gcc is not installed")
    c = cand(BISECT_C, filename="guess.c")
    build = c.run(["gcc", "-O2", "-o", "guess", "{program}"], timeout=120)
    assert build.returncode == 0, build.stderr
    s = c.interact(["./guess"], at_most(123456), max_queries=20, timeout=30, stdin="1000000\n")
    assert s.value == "123456" and s.queries == 20 and s.stopped == "answered"
    with pytest.raises(QueryBudgetExceeded, match=r"\(11 > 10\)"):
        c.interact(["./guess"], at_most(123456), max_queries=10, timeout=30, stdin="1000000\n")


def test_bad_arguments_are_the_evaluators_errors(cand):
    c = cand("def search(f):\n    f(0.0, 0.0)\n")
    with pytest.raises(ValueError, match="max_queries"):
        c.interact("search", bowl, max_queries=0, timeout=30)
    with pytest.raises(TypeError, match="interact_run|stdin"):
        c.interact(["sh"], bowl, 1, max_queries=1, timeout=30)
    sh = cand("echo\n", filename="x.sh")
    with pytest.raises(TypeError, match="interact_run"):
        sh.interact("search", bowl, max_queries=1, timeout=30)
    assert math.isfinite(bowl(0, 0)) and os.path.isdir(c.work_dir)
    assert HAS_BWRAP in (True, False)


def test_cost_is_measured_and_the_cpu_budget_holds(cand):
    from evoforge import CandidateBudgetExceeded

    c = cand("def search(f):\n    f(0.0, 0.0)\n    return sum(range(10))\n")
    s = c.interact("search", bowl, max_queries=5, timeout=30)
    assert s.cost.calls == 1 and s.cost.cpu_s > 0 and c.last_cost == s.cost
    assert c.total_cost.calls == 1
    spin = cand("def search(f):\n    f(0.0, 0.0)\n    while True:\n        pass\n")
    with pytest.raises(CandidateBudgetExceeded, match=r"search\(\) used .* CPU, budget 0\.5 s") as info:
        spin.interact("search", bowl, max_queries=5, timeout=120, cpu_budget_s=0.5)
    assert info.value.session.queries == 1 and info.value.scope == "call"


def test_the_evaluations_cpu_budget_counts_interactive_sessions(tmp_path):
    from evoforge import CandidateBudgetExceeded

    code = "def search(f):\n    f(0.0, 0.0)\n    while True:\n        pass\n"
    with Candidate.create(code, cpu_budget_s=0.5) as c:
        with pytest.raises(CandidateBudgetExceeded, match="evaluator.cpu_budget_s"):
            c.interact("search", bowl, max_queries=5, timeout=120)
        with pytest.raises(CandidateBudgetExceeded, match="was not started"):
            c.interact("search", bowl, max_queries=5, timeout=120)
