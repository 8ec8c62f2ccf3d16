"""What a candidate call costs, measured from outside the sandbox (issue 15, part 1).

Real subprocesses under every isolation level this machine has, with and without cgroups. Only
CPU-time facts are asserted (a loop that spins until *its own* CPU clock reads 0.5 s used at
least 0.5 s): never wall-clock durations, which a loaded machine stretches at will.
"""
from __future__ import annotations

import math
import sys
import textwrap

import pytest

import evoforge
from evoforge.sandbox import CallCost, Candidate, SandboxLimits
from evoforge.sandbox.isolation import IsolationLevel, probe

LEVELS = [level for level in IsolationLevel if probe(level)]
# Under bwrap without a cgroup the CPU figure comes from /proc samples (every 50 ms, in clock
# ticks), so it may miss the last interval of each process: a lower bound, short by about that.
SAMPLING_SLACK = 0.15

PROGRAM = textwrap.dedent('''
    import os
    import time


    def spin(cpu_s):
        """Busy until this process has used `cpu_s` CPU seconds (whatever the machine's load)."""
        x = 0
        while time.process_time() < cpu_s:
            x += 1
        return x > 0


    def tree(children, cpu_s):
        """`children` processes that each burn `cpu_s` CPU seconds, then reaped."""
        pids = []
        for _ in range(children):
            pid = os.fork()
            if pid == 0:
                spin(cpu_s)
                os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        return children


    def hold(mb, cpu_s):
        block = b"x" * (mb << 20)   # written, so every page is really resident
        spin(cpu_s)
        return len(block)


    def nothing():
        return 1
''')


@pytest.fixture(params=[(level, cg) for level in LEVELS for cg in (True, False)],
                ids=lambda p: f"{p[0].name.lower()}-{'cgroup' if p[1] else 'nocgroup'}")
def cand(request):
    level, cgroups = request.param
    with Candidate.create(PROGRAM, isolation=level, limits=SandboxLimits(use_cgroups=cgroups)) as c:
        c.sampled_only = level is IsolationLevel.BWRAP and not cgroups  # see the tree test
        yield c


def test_a_busy_call_reports_at_least_the_cpu_it_burned(cand):
    assert cand.last_cost == CallCost(calls=0) and cand.total_cost.calls == 0
    assert cand.call("spin", 0.5, timeout=120) is True
    cost = cand.last_cost
    assert isinstance(cost, CallCost) and cost.calls == 1
    # the process's own clock said 0.5 s, so the tree used more (sampled: see the tree test)
    assert cost.cpu_s >= (0.5 - SAMPLING_SLACK if cand.sampled_only else 0.5)
    assert cost.wall_s > 0 and cost.peak_memory_mb is not None and cost.peak_memory_mb > 1
    cand.call("nothing", timeout=60)
    small = cand.last_cost
    assert small.cpu_s < cost.cpu_s           # nothing() cannot have used the 0.5 s spin() did
    total = cand.total_cost
    assert total.calls == 2
    assert math.isclose(total.cpu_s, cost.cpu_s + small.cpu_s, abs_tol=1e-9)
    assert math.isclose(total.wall_s, cost.wall_s + small.wall_s, abs_tol=1e-9)
    assert total.peak_memory_mb == max(cost.peak_memory_mb, small.peak_memory_mb)


def test_the_cpu_of_the_whole_process_tree_is_counted(cand):
    cand.call("tree", 3, 0.3, timeout=120)
    # With a cgroup, or where wait4 sees every reaped process (none, unshare --fork), the figure is
    # the tree's exact CPU. Under bwrap without a cgroup, bwrap never reaps its pid-namespace init:
    # the figure comes from /proc samples of the tree and may miss the last interval of each
    # process, so only a looser lower bound is certain there.
    assert cand.last_cost.cpu_s >= (0.9 - 3 * SAMPLING_SLACK if cand.sampled_only else 0.9)


def test_peak_memory_is_the_trees(cand):
    cand.call("hold", 200, 0.3, timeout=120)
    assert cand.last_cost.peak_memory_mb >= 200
    cand.call("nothing", timeout=60)
    assert cand.last_cost.peak_memory_mb < 200


@pytest.mark.parametrize("level", LEVELS, ids=lambda lv: lv.name.lower())
def test_run_reports_its_cost_too(level):
    spin = "import time\nwhile time.process_time() < 0.4: pass\nprint('done')\n"
    with Candidate.create(spin, filename="prog.py", isolation=level) as c:
        out = c.run([sys.executable, "{program}"], timeout=120)
        assert out.returncode == 0 and out.stdout.strip() == "done"
        assert out.cost is c.last_cost and out.cost.cpu_s >= 0.4 and out.cost.calls == 1


def test_call_cost_is_exported_adds_up_and_crosses_processes_as_json():
    assert evoforge.CallCost is CallCost
    a = CallCost(wall_s=1.0, cpu_s=0.5, peak_memory_mb=30.0)
    b = CallCost(wall_s=2.0, cpu_s=1.5, peak_memory_mb=None)
    total = a + b
    assert total == CallCost(wall_s=3.0, cpu_s=2.0, peak_memory_mb=30.0, calls=2)
    assert CallCost.from_json(total.to_json()) == total
    assert total.describe() == "2 s CPU, 3 s wall, 30 MB peak memory, 2 calls"
    with pytest.raises(AttributeError):
        a.cpu_s = 0.0  # frozen: a measurement is not edited after the fact


@pytest.mark.parametrize("data, message", [
    ([1, 2], "a call cost is a mapping"),
    ({"cpu_s": -1.0}, "cpu_s must be finite and ≥ 0"),
    ({"cpu_s": float("nan")}, "cpu_s must be finite"),
    ({"wall_s": True}, "wall_s must be a number"),
    ({"cpu_s": "1"}, "cpu_s must be a number"),
    ({"calls": -1}, "calls must be a non-negative integer"),
    ({"cpu": 1.0}, "unknown call cost fields: ['cpu']"),
])
def test_a_corrupt_cost_is_refused_with_a_clear_error(data, message):
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        CallCost.from_json(data)
