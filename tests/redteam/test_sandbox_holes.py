"""Holes the red team found: each test states the behaviour we want, fails today, and is marked
xfail(strict=True) with the precise cause and a suggested fix. When a fix lands the test
XPASSes, which fails the suite on purpose: remove the mark then.

Fixed holes stay here as plain tests (each says how it was fixed): the memory of the whole
process tree (a memory cgroup), the disk a candidate may fill (SandboxLimits.disk_mb), the
RAM-backed /tmp under bwrap, the size of results decoded by the trusted host.

(Reason bugs found by the corpus are marked in the corpus files themselves, with a BUG line.)
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from evoforge.sandbox import CandidateError
from redteam_helpers import LEVELS, TASK_TEMPLATE, level_available

import evoforge
from evoforge.program import AttemptStatus
from evoforge.sandbox import Candidate, SandboxLimits, detect_isolation
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer
from evoforge.testing.sandbox_suite import Breach, breach_if, memory_cgroup_works

AVAILABLE = [level for level in LEVELS if level_available(level)]
MEMORY_CGROUP = memory_cgroup_works()
MIB = 1 << 20


def _candidate(code: str, level: str, **limits) -> Candidate:
    return Candidate.create(textwrap.dedent(code), isolation=level, limits=SandboxLimits(**limits))


# fixed: memory_mb also caps the candidate's whole process tree through a memory cgroup
# (_cgroup.Cgroup.create), and an OOM kill there kills the tree and is reported as
# "memory limit exceeded" (_watchdog.TreeWatchdog). Without a writable memory cgroup the limit
# is per process only (documented in limits.py): the hole stays open, a strict xfail then.
@pytest.mark.parametrize("level", [
    pytest.param(level, marks=[] if MEMORY_CGROUP else pytest.mark.xfail(
        strict=True, raises=Breach, reason="no writable memory cgroup on this machine: "
        "memory_mb is RLIMIT_AS, per process (documented in limits.py)"))
    for level in AVAILABLE])
def test_memory_limit_covers_the_whole_process_tree(level):
    with _candidate("""
        import os, time
        def hold(n, mib):
            r, w = os.pipe()
            for _ in range(n):
                if os.fork() == 0:
                    block = bytearray(mib << 20)
                    block[::4096] = b"\\1" * len(block[::4096])
                    os.write(w, b"+")
                    time.sleep(5)
                    os._exit(0)
            held = 0
            while held < n:
                held += len(os.read(r, n))
            return held * mib
    """, level, memory_mb=256) as cand:
        try:
            held = cand.call("hold", 4, 160, timeout=30)
        except CandidateError as exc:
            assert "memory limit exceeded" in exc.summary, exc.summary
            assert "memory_mb=256" in exc.summary, exc.summary  # the limit fired, not the 30 s timeout
            return
    breach_if(held > 256, f"the candidate's processes held {held} MiB under memory_mb=256")


@pytest.mark.skipif("bwrap" not in AVAILABLE, reason="bubblewrap is not usable here")
@pytest.mark.parametrize("use_cgroups", [True, False], ids=["cgroups", "no-cgroups"])
@pytest.mark.parametrize("folder", ["/tmp", "/dev/shm"])
def test_private_tmp_is_bounded(folder, use_cgroups):
    with _candidate(f"""
        def fill(mib):
            block = b"t" * (1 << 20)
            for i in range(mib):
                with open(f"{folder}/fill-{{i}}", "wb") as fh:
                    fh.write(block)
            return mib
    """, "bwrap", memory_mb=128, file_size_mb=2, use_cgroups=use_cgroups) as cand:
        try:
            written = cand.call("fill", 384, timeout=60)
        except CandidateError as exc:
            # fixed: /tmp and /dev/shm are size-capped tmpfs (isolation.TMPFS_BYTES; /dev/shm
            # was bwrap's --dev tmpfs of half the RAM), and their files are memory: with a
            # memory cgroup they count against memory_mb (128 MiB here) first
            assert re.search("No space left on device|memory limit exceeded", str(exc)), str(exc)
            return
    breach_if(written > 256, f"{written} MiB of RAM-backed {folder}")


# fixed: SandboxLimits.disk_mb, enforced by a watchdog in _process.run_process
# (_watchdog.TreeWatchdog sums the allocated blocks of the work dir every 50 ms and once more at
# the end, plus files deleted but held open) that kills the whole tree and reports it.
@pytest.mark.parametrize("level", AVAILABLE)
def test_work_dir_disk_usage_is_bounded(level):
    with _candidate("""
        def fill(files):
            block = b"d" * (1 << 20)
            for i in range(files):
                with open(f"fill-{i}.bin", "wb") as fh:
                    fh.write(block)
            return files
    """, level, file_size_mb=1, disk_mb=16) as cand:
        try:
            written = cand.call("fill", 4096, timeout=60)
        except CandidateError as exc:
            assert re.search(r"disk limit exceeded \(\d+ MiB > disk_mb=16", exc.summary), exc.summary
            left = sum(p.stat().st_blocks * 512 for p in cand.work_dir.iterdir()) >> 20
            breach_if(left > 16 + 512, f"{left} MiB were written before the writer was stopped")
            for path in cand.work_dir.glob("fill-*.bin"):
                path.unlink()
            assert cand.call("fill", 4, timeout=60) == 4  # within the limit: fine
            return
    breach_if(written > 16, f"wrote {written} MiB in {written} files under disk_mb=16")


def test_result_decoding_cannot_blow_up_the_trusted_host(tmp_path):
    task = shutil.copytree(TASK_TEMPLATE, tmp_path / "task")
    level = detect_isolation("auto").name.lower()
    script = textwrap.dedent(f"""
        import json, resource
        from evoforge.sandbox import SandboxLimits, evaluate_code
        code = '''
        import os
        def attack(ctx):
            fd = int(open("/proc/self/cmdline", "rb").read().split(b"\\\\0")[-2])
            os.write(fd, b'{{"ok": true, "value": [')
            chunk = b"0.5," * (1 << 18)
            for _ in range(64):
                os.write(fd, chunk)
            os.write(fd, b'0.5]}}')
            os._exit(0)
        '''
        ev = evaluate_code({str(task)!r}, code, isolation={level!r},
                           limits=SandboxLimits(memory_mb=128))
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
        print(json.dumps({{"status": ev.status, "reason": ev.reason, "peak_mib": peak}}))
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         timeout=120, check=False)
    seen = json.loads(out.stdout.strip().splitlines()[-1])
    # fixed: results over max_result_bytes (16 MiB by default) are refused before decoding
    assert seen["status"] in ("invalid", "error") and seen["reason"], seen
    breach_if(seen["peak_mib"] > 4 * 128,
              f"the trusted evaluator host peaked at {seen['peak_mib']} MiB for a candidate "
              "limited to 128 MiB")


ESCAPE = '''
import os
def attack(ctx):
    seen = []
    try:
        seen.append(open(os.path.join(ctx["task_dir"], "evaluate.py")).read())
    except OSError as exc:
        seen.append(type(exc).__name__)
    try:
        with open(ctx["host_tmp"], "w") as fh:
            fh.write("foothold")
        seen.append("wrote")
    except OSError as exc:
        seen.append(type(exc).__name__)
    return seen
'''


# The issue-16 holes of the unshare level (a fresh machine without bubblewrap): a candidate read
# the task's evaluate.py and dropped a file into the host's /tmp. fixed at the landlock level
# (Landlock: read only the interpreter, system libraries and the runtime dir, write only the work
# dir); they stay open under unshare, documented there (strict xfail).
@pytest.mark.parametrize("level", [
    pytest.param(level, marks=[] if level == "landlock" else pytest.mark.xfail(
        strict=True, raises=Breach, reason="unshare has no file-system isolation (documented)"))
    for level in ("landlock", "unshare") if level in AVAILABLE])
def test_no_evaluator_source_read_and_no_tmp_foothold(tmp_path, level):
    task = shutil.copytree(TASK_TEMPLATE, tmp_path / "task")
    (task / "evaluate.py").write_text(textwrap.dedent("""
        from evoforge import Result
        def evaluate(candidate):
            seen = candidate.call("attack", CTX, timeout=20)
            return Result(score=1.0, feedback=repr(seen))
    """).replace("CTX", repr({"task_dir": str(task), "host_tmp": str(tmp_path / "foothold")})))
    from evoforge.sandbox import evaluate_code
    ev = evaluate_code(task, ESCAPE, isolation=level, timeout=120)
    assert ev.ok, ev.reason
    breach_if("evaluate" in ev.result.feedback or "wrote" in ev.result.feedback
              or (tmp_path / "foothold").exists(), f"under {level}: {ev.result.feedback}")
    # the write is refused by the read-only mount tree (full setup) or by Landlock
    assert ev.result.feedback in ("['PermissionError', 'PermissionError']",
                                  "['PermissionError', 'OSError']")


TAMPER = '''
import os
def attack(ctx):
    path = os.path.join(os.readlink(f"/proc/{os.getppid()}/cwd"), "evaluate.py")
    with open(path, "a") as fh:
        fh.write("\\ndef evaluate(candidate, **kw):\\n"
                 "    from evoforge import Result\\n"
                 "    return Result(score=0.9999)\\n")
    return 0.5
'''


@pytest.mark.parametrize("level", [lv for lv in ("landlock", "unshare", "none") if lv in AVAILABLE])
def test_a_program_that_tampers_with_the_evaluator_is_never_crowned(tmp_path, level):
    task = shutil.copytree(TASK_TEMPLATE, tmp_path / "task")
    (task / "task.yaml").write_text(
        "name: redteam\ndescription: Return the hidden number.\n"
        f"evaluator:\n  timeout: 20\n  memory_mb: 256\n  isolation: {level}\n"
        "  stages:\n    - {name: quick, args: {call_timeout: 2}}\n"
        "    - {name: full, args: {call_timeout: 3}}\n")
    with ScriptedOpenAIServer([f"```python\n{TAMPER}\n```\n"]) as srv:
        result = evoforge.run(task, llm=f"openai/scripted@{srv.base_url}", budget=1,
                              run_dir=tmp_path / "run",
                              overrides={"mutation.weights": {"full": 1.0},
                                         "llm.prices": {"scripted": [0.0, 0.0]}})
    storage = open_storage(result.storage_url, read_only=True)
    try:
        _, cheat = storage.attempts(result.run_id)
    finally:
        storage.close()
    run_dir_task = tmp_path / "run" / "task" / "evaluate.py"
    if level == "landlock":  # fixed there: the task folder is neither readable nor writable
        assert "0.9999" not in run_dir_task.read_text() and cheat.score != 0.9999, cheat.reason
        return
    # Today the run notices only afterwards (or never, when the budget ends first: the check
    # runs before the next proposal), with the cheat already recorded OK and crowned best.
    # fixed: the task files are checked after every stage, and the attempt is recorded as an error
    assert cheat.status is not AttemptStatus.OK, (
        f"the tampering program was recorded {cheat.status.value} with score {cheat.score}")
    assert result.best is None or result.best.id != cheat.id
    if "0.9999" in (run_dir_task := (tmp_path / "run" / "task" / "evaluate.py")).read_text():
        assert re.search("changed", cheat.reason), cheat.reason
        assert "integrity" in result.stop_reason
    assert run_dir_task.exists()
