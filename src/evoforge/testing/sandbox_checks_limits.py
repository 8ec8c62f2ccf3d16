"""Conformance checks, part 2: resource limits (memory, disk, CPU, files, processes, output)."""
from __future__ import annotations

import time
from collections.abc import Callable

from evoforge.sandbox import (
    Candidate,
    CandidateError,
    CandidateTimeout,
    SandboxLimits,
)
from evoforge.testing.sandbox_properties import (
    Breach,
    breach_if,
    provides,
)


class LimitChecks:
    """Mixed into `sandbox_suite.SandboxTestCase` (its fixtures and `level`)."""

    level: str = ""
    timeout: float = 20.0
    limits: SandboxLimits

    # -- limits --------------------------------------------------------------------------
    @provides("output_capped")
    def test_output_is_capped(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os
            def f():
                for _ in range(16):
                    os.write(1, b"o" * (1 << 20))
                    os.write(2, b"e" * (1 << 20))
                return "done"
        """, max_output_bytes=10_000)
        assert cand.call("f", timeout=self.timeout) == "done"
        breach_if(len(cand.last_stdout) > 11_000 or len(cand.last_stderr) > 11_000,
                  f"kept {len(cand.last_stdout)} + {len(cand.last_stderr)} characters")
        assert "bytes truncated" in cand.last_stdout

    @provides("result_capped")
    def test_result_size_is_capped(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("def f():\n    return ['z' * 1000] * 5000\n",
                              max_result_bytes=100_000)
        try:
            value = cand.call("f", timeout=self.timeout)
        except CandidateError as exc:
            assert "larger than the 100000 bytes allowed" in exc.summary
            return
        raise Breach(f"a result of {len(str(value))} characters was accepted")

    @provides("memory_limit")
    def test_memory_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            def f():
                hoard = []
                for _ in range(64):
                    chunk = bytearray(16 << 20)
                    chunk[::4096] = b"\\1" * len(chunk[::4096])
                    hoard.append(chunk)
                return len(hoard) * 16
        """, memory_mb=256)
        try:
            got = cand.call("f", timeout=self.timeout)
        except CandidateError as exc:
            assert "MemoryError" in exc.summary and "memory limit" in exc.summary, exc.summary
            return
        raise Breach(f"allocated {got} MiB under a 256 MiB limit")

    @provides("tree_memory_limit")
    def test_memory_limit_covers_the_process_tree(
            self, make_candidate: Callable[..., Candidate]) -> None:
        # Each child stays under the per-process limit; together they are over it.
        cand = make_candidate("""
            import subprocess, sys
            HOG = ("import sys, time; b = bytearray(96 << 20); b[::4096] = b'1' * len(b[::4096]); "
                   "print('held', flush=True); time.sleep(20)")
            def f():
                procs = [subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.PIPE)
                         for _ in range(4)]
                held = sum(96 for p in procs if p.stdout.readline().strip() == b"held")
                for p in procs:
                    p.kill()
                return held
        """, memory_mb=256)
        start = time.monotonic()
        try:
            held = cand.call("f", timeout=self.timeout)
        except CandidateError as exc:
            assert "memory limit exceeded" in exc.summary, exc.summary
            assert time.monotonic() - start < self.timeout / 2, "the tree was not killed promptly"
            return
        breach_if(held > 256, f"the candidate's processes held {held} MiB under memory_mb=256")

    @provides("disk_limit")
    def test_disk_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os
            def many(files):
                block = b"d" * (1 << 20)
                for i in range(files):
                    with open(f"many-{i}.bin", "wb") as fh:
                        fh.write(block)
                return files
            def hidden(mib):
                with open("hidden.bin", "wb") as fh:
                    os.unlink("hidden.bin")  # still on disk while open, invisible to a walk
                    for _ in range(mib):
                        fh.write(b"h" * (1 << 20))
                        fh.flush()
                    import time
                    time.sleep(10)
                return mib
        """, disk_mb=8, file_size_mb=64)
        for function, amount in (("many", 4096), ("hidden", 32)):
            try:
                written = cand.call(function, amount, timeout=self.timeout)
            except CandidateError as exc:
                assert "disk limit exceeded" in exc.summary, exc.summary
                assert "disk_mb=8" in exc.summary, exc.summary
                continue
            raise Breach(f"{function}() stored {written} MiB under disk_mb=8")

    @provides("cpu_limit")
    def test_cpu_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("def f():\n    while True:\n        pass\n", cpu_seconds=1)
        try:
            cand.call("f", timeout=10)
        except CandidateTimeout:
            raise Breach("ran 10 s wall clock under a 1 s CPU limit") from None
        except CandidateError as exc:
            assert "CPU time limit" in exc.summary, exc.summary

    @provides("file_size_limit")
    def test_file_size_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os
            def f():
                with open("big.bin", "wb") as fh:
                    for _ in range(8):
                        fh.write(b"x" * (1 << 20))
                return os.path.getsize("big.bin")
        """, file_size_mb=2)
        try:
            size = cand.call("f", timeout=self.timeout)
        except CandidateError as exc:
            assert "File too large" in exc.summary, exc.summary
            return
        raise Breach(f"wrote a {size} byte file under a 2 MiB limit")

    @provides("open_files_limit")
    def test_open_files_limit(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import os
            def f():
                held = []
                try:
                    for _ in range(5000):
                        held.append(os.open(os.devnull, os.O_RDONLY))
                except OSError as exc:
                    return len(held), exc.errno
                return len(held), 0
        """, open_files=64)
        opened, errno = cand.call("f", timeout=self.timeout)
        breach_if(errno == 0, f"opened {opened} files under a 64 descriptor limit")
        assert opened < 64 and errno == 24

    @provides("process_limit")
    def test_process_limit(self, make_candidate: Callable[..., Candidate], marker: str) -> None:
        # Bounded on purpose (not a fork bomb): safe even where nothing caps processes.
        cand = make_candidate(f"""
            import subprocess, sys
            def f():
                procs, refused = [], 0
                for _ in range(24):
                    try:
                        procs.append(subprocess.Popen([sys.executable, "-c",
                                     "import time; time.sleep(30)", {marker!r}]))
                    except OSError:
                        refused += 1
                for p in procs:
                    p.kill()
                    p.wait()
                return len(procs), refused
        """, max_processes=8)
        started, refused = cand.call("f", timeout=self.timeout)
        breach_if(started >= 8 or not refused, f"started {started} processes under a cap of 8")

    @provides("rlimits_stick")
    def test_limits_cannot_be_raised(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            import resource
            def f():
                raised = []
                for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_NOFILE"):
                    res = getattr(resource, name)
                    soft, hard = resource.getrlimit(res)
                    try:
                        resource.setrlimit(res, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
                        raised.append(name)
                    except (ValueError, OSError):
                        pass
                return raised
        """, cpu_seconds=30)
        raised = cand.call("f", timeout=self.timeout)
        breach_if(raised, f"the candidate raised its own limits: {raised}")
