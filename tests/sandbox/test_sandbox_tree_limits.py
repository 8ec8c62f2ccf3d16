"""Limits on a candidate's whole process tree: memory (a memory cgroup), disk (the watchdog in
the process runner, `SandboxLimits.disk_mb`) and the report of a kill by the hard CPU limit.
Real processes under every isolation level that works here, with and without cgroups."""
from __future__ import annotations

import os
import re
import textwrap

import pytest
from sandbox_helpers import AVAILABLE, HAS_CGROUPS, level_id

from evoforge.sandbox import Candidate, CandidateError, SandboxLimits
from evoforge.sandbox._cgroup import Cgroup
from evoforge.sandbox._watchdog import descendants, disk_usage
from evoforge.testing.sandbox_suite import memory_cgroup_works

MIB = 1 << 20
CGROUPS = pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups", "no-cgroups"])


@pytest.fixture(params=AVAILABLE, ids=level_id)
def make(request):
    made: list[Candidate] = []

    def make(code: str, **limits) -> Candidate:
        cand = Candidate.create(textwrap.dedent(code), isolation=request.param,
                                limits=SandboxLimits(**limits))
        made.append(cand)
        return cand

    yield make
    for cand in made:
        cand.close()


FILLER = """
    import os, time
    def many(files, mib=1):
        block = b"d" * (mib << 20)
        for i in range(files):
            with open(f"many-{i}.bin", "wb") as fh:
                fh.write(block)
        return files
    def hidden(mib):
        with open("hidden.bin", "wb") as fh:
            os.unlink("hidden.bin")
            for _ in range(mib):
                fh.write(b"h" * (1 << 20))
                fh.flush()
            time.sleep(20)
        return mib
    def child_hides(mib):
        import subprocess, sys
        code = ("import os, time\\n"
                "fh = open('child.bin', 'wb'); os.unlink('child.bin')\\n"
                f"for _ in range({mib}): fh.write(b'c' * (1 << 20)); fh.flush()\\n"
                "print('written', flush=True); time.sleep(20)\\n")
        p = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
        p.stdout.readline()
        time.sleep(20)
        return mib
    def sparse(gib):
        with open("sparse.bin", "wb") as fh:
            fh.truncate(gib << 30)
        return os.path.getsize("sparse.bin") >> 30
"""


@CGROUPS
def test_disk_limit_stops_many_files_promptly(make, use_cgroups):
    cand = make(FILLER, disk_mb=16, file_size_mb=1, use_cgroups=use_cgroups)
    with pytest.raises(CandidateError) as info:
        cand.call("many", 100_000, timeout=60)
    assert re.match(r"disk limit exceeded \(\d+ MiB > disk_mb=16 in the candidate's work dir\) "
                    r"in many\(\)$", info.value.summary), info.value.summary  # the limit, not the timeout
    assert "[evoforge sandbox] disk limit exceeded" in cand.last_stderr


@CGROUPS
def test_disk_limit_counts_deleted_files_still_open(make, use_cgroups):
    cand = make(FILLER, disk_mb=8, file_size_mb=64, use_cgroups=use_cgroups)
    for function in ("hidden", "child_hides"):
        with pytest.raises(CandidateError, match=r"disk limit exceeded .*disk_mb=8"):
            cand.call(function, 24, timeout=30)  # the limit fired: a timeout would say so


def test_disk_limit_checked_after_a_fast_return_and_within_it_is_fine(make):
    cand = make(FILLER, disk_mb=4)
    assert cand.call("many", 2, timeout=30) == 2  # 2 MiB: within the limit
    with pytest.raises(CandidateError, match=r"disk limit exceeded \(\d+ MiB > disk_mb=4"):
        cand.call("many", 6, timeout=30)  # finishes in milliseconds: caught by the final check


def test_sparse_files_count_what_they_use(make):
    cand = make(FILLER, disk_mb=4, file_size_mb=None)
    assert cand.call("sparse", 64, timeout=30) == 64  # 64 GiB apparent, no blocks


def test_disk_limit_none_disables_it(make):
    cand = make(FILLER, disk_mb=None, file_size_mb=1)
    assert cand.call("many", 24, timeout=60) == 24


def test_run_reports_the_disk_limit(make):
    cand = make(FILLER, disk_mb=4, file_size_mb=1)
    out = cand.run(["python3", "-c", "import initial; initial.many(64)"], timeout=60)
    assert out.limit_exceeded.startswith("disk limit exceeded"), out
    assert "[evoforge sandbox] disk limit exceeded" in out.stderr


@CGROUPS
def test_cpu_limit_kill_is_reported_as_cpu_not_memory(make, use_cgroups):
    cand = make("""
        import signal
        def burn():
            signal.signal(signal.SIGXCPU, signal.SIG_IGN)
            while True:
                pass
    """, cpu_seconds=1, use_cgroups=use_cgroups)
    with pytest.raises(CandidateError) as info:
        cand.call("burn", timeout=20)
    summary = info.value.summary
    # without a cgroup under bwrap (which never reaps its pid-namespace init, so wait4 sees no
    # CPU), the tree's CPU comes from /proc samples: still enough to name the cause
    assert "CPU time limit" in summary and "memory" not in summary, summary


needs_memcg = pytest.mark.skipif(not memory_cgroup_works(),
                                 reason="no writable memory cgroup here: memory_mb is per process")


@needs_memcg
def test_memory_cgroup_bounds_the_tree_and_kills_it(make):
    cand = make("""
        import os, time
        def hold(n, mib):
            pids = []
            for _ in range(n):
                pid = os.fork()
                if pid == 0:
                    block = bytearray(mib << 20)
                    block[::4096] = b"\\1" * len(block[::4096])
                    time.sleep(30)
                    os._exit(0)
                pids.append(pid)
            time.sleep(30)
            return n * mib
    """, memory_mb=192)
    with pytest.raises(CandidateError, match=r"memory limit exceeded .*memory_mb=192"):
        cand.call("hold", 3, 100, timeout=40)  # the limit ended it, not the 30 s sleeps


@needs_memcg
def test_memory_within_the_tree_limit_is_fine(make):
    cand = make("""
        import os
        def two(mib):
            pid = os.fork()
            block = bytearray(mib << 20)
            block[::4096] = b"\\1" * len(block[::4096])
            if pid == 0:
                os._exit(0)
            os.waitpid(pid, 0)
            return mib
    """, memory_mb=256)
    assert cand.call("two", 48, timeout=30) == 48


@needs_memcg
def test_cgroup_memory_files():
    group = Cgroup.create(8, 64)
    assert group is not None
    try:
        assert group.limits_memory and group.memory_bytes == 64 * MIB
        for path in group.memory_files:
            assert int(path.read_text()) == 64 * MIB
            memsw = path.with_name("memory.memsw.limit_in_bytes")
            if memsw.exists():
                assert int(memsw.read_text()) == 64 * MIB
        assert group.oom_kills() == 0
    finally:
        group.remove()
    assert all(not d.exists() for _, d in group.dirs)


@pytest.mark.skipif(not HAS_CGROUPS, reason="needs a writable cgroup hierarchy")
def test_no_memory_limit_without_memory_mb():
    group = Cgroup.create(8)
    assert group is not None
    try:
        assert not group.limits_memory and group.memory_bytes is None
    finally:
        group.remove()


def test_disk_usage_counts_blocks_hard_links_once_and_stops_early(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * MIB)
    os.link(tmp_path / "a", tmp_path / "b")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c").write_bytes(b"y" * MIB)
    with open(tmp_path / "sparse", "wb") as fh:
        fh.truncate(1 << 40)
    os.symlink("/usr", tmp_path / "usr")
    used = disk_usage([str(tmp_path)])
    assert 2 * MIB <= used < 2 * MIB + 64 * 1024
    assert disk_usage([str(tmp_path)], stop_above=MIB // 2) < 2 * MIB
    locked = tmp_path / "locked"
    locked.mkdir()
    (locked / "d").write_bytes(b"z" * MIB)
    locked.chmod(0)
    assert disk_usage([str(tmp_path)]) >= 3 * MIB  # unreadable dirs are made readable


def test_descendants_lists_the_tree():
    import subprocess
    import sys
    code = ("import subprocess, sys, time; "
            "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)']); "
            "print(p.pid, flush=True); time.sleep(30)")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE)
    try:
        grandchild = int(proc.stdout.readline())
        assert {proc.pid, grandchild} <= descendants(proc.pid)
    finally:
        for pid in descendants(proc.pid):
            os.kill(pid, 9)
        proc.wait()
