"""The cheating lint flags what it promises to flag, and leaves honest code alone."""
from __future__ import annotations

import pytest

from evoforge.safety import lint, lint_new_findings

HONEST = '''
import math
import random

def search(seed):
    rng = random.Random(seed)
    best = min((math.sin(x), x) for x in (rng.uniform(-5, 5) for _ in range(10)))
    with open("notes.txt", "w") as fh:
        fh.write(str(best))
    try:
        return best[1]
    except ValueError:
        return 0.0
'''


def test_honest_code_is_clean():
    assert lint(HONEST) == []


@pytest.mark.parametrize("code, rule", [
    ("import sys\nsys.exit(0)\n", "exit"),
    ("import os\nos._exit(0)\n", "exit"),
    ("raise SystemExit(0)\n", "exit"),
    ("import sys\nf = sys._getframe(1)\n", "frames"),
    ("import inspect\ninspect.stack()\n", "frames"),
    ("def f(g):\n    return g.f_back.f_globals\n", "frames"),
    ("import ctypes\n", "ctypes"),
    ("class A:\n    def __eq__(self, o):\n        return True\n", "operators"),
    ("class A(float):\n    def __lt__(self, o):\n        return True\n", "operators"),
    ("try:\n    pass\nexcept BaseException:\n    pass\n", "catch_all"),
    ("try:\n    pass\nexcept:\n    pass\n", "catch_all"),
    ("open('/etc/passwd').read()\n", "files"),
    ("open('../evaluate.py').read()\n", "files"),
    ("import time\ntime.time = lambda: 0\n", "clock"),
    ("import time\ntime.perf_counter = lambda: 0\n", "clock"),
    ("import os\nk = os.environ.get('OPENAI_API_KEY')\n", "environment"),
    ("import os\nk = os.getenv('HOME')\n", "environment"),
    ("import socket\n", "network"),
    ("import subprocess\n", "process"),
    ("exec('x=1')\n", "dynamic"),
    ("import builtins\nbuiltins.print = None\n", "dynamic"),
])
def test_flags(code, rule):
    rules = {f.rule for f in lint(code)}
    assert rule in rules, (code, rules)


def test_findings_have_lines():
    f = lint("x = 1\nimport sys\nsys.exit(3)\n")
    assert [x.line for x in f if x.rule == "exit"] == [3]
    assert "line 3" in str(f[-1])


def test_only_new_findings_count():
    parent = "import os\nv = os.getenv('X')\n"
    child = parent + "import sys\nsys.exit(0)\n"
    assert [f.rule for f in lint_new_findings(child, parent)] == ["exit"]


def test_unparseable_code_is_not_linted():
    assert lint("def (:\n") == []
