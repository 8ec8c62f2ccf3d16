"""Conformance checks, part 3: the boundary - network, unix sockets, host files, other
candidates, other processes, the evaluator's memory, seccomp, capabilities."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from evoforge.sandbox import (
    Candidate,
    SandboxLimits,
)
from evoforge.testing.sandbox_observers import (
    Listener,
    tree_digest,
)
from evoforge.testing.sandbox_properties import (
    PY,
    SECRET_ENV,
    Breach,
    breach_if,
    provides,
)


class BoundaryChecks:
    """Mixed into `sandbox_suite.SandboxTestCase` (its fixtures and `level`)."""

    level: str = ""
    timeout: float = 20.0
    limits: SandboxLimits

    # -- network ---------------------------------------------------------------------------
    @provides("no_network")
    def test_no_network_to_the_host(self, make_candidate: Callable[..., Candidate],
                                    listener: Listener) -> None:
        cand = make_candidate(f"""
            import socket
            def f():
                errors = []
                try:
                    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    u.sendto(b"udp-escaped", ("127.0.0.1", {listener.udp_port}))
                except OSError as exc:
                    errors.append(type(exc).__name__)
                try:
                    with socket.create_connection(("127.0.0.1", {listener.port}), timeout=2) as c:
                        c.sendall(b"tcp-escaped")
                except OSError as exc:
                    errors.append(type(exc).__name__)
                return errors
        """)
        errors = cand.call("f", timeout=self.timeout)
        arrived = listener.settle()
        breach_if([a for a in arrived if a[0] in ("tcp", "udp")],
                  f"reached the host's listener: {arrived} (candidate saw errors {errors})")

    @provides("no_host_unix_sockets")
    def test_no_path_unix_sockets(self, make_candidate: Callable[..., Candidate],
                                  listener: Listener) -> None:
        cand = make_candidate(f"""
            import socket
            def f():
                s = None
                try:  # landlock: seccomp refuses socket(AF_UNIX) itself
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect({listener.unix_path!r})
                    s.sendall(b"unix-escaped")
                    return "connected"
                except OSError as exc:
                    return type(exc).__name__
                finally:
                    if s is not None:
                        s.close()
        """)
        seen = cand.call("f", timeout=self.timeout)
        arrived = [a for a in listener.settle() if a[0] == "unix"]
        breach_if(arrived or seen == "connected", f"reached a host unix socket: {arrived}")

    @provides("no_abstract_sockets")
    def test_no_abstract_unix_sockets(self, make_candidate: Callable[..., Candidate],
                                      listener: Listener) -> None:
        cand = make_candidate(f"""
            import socket
            def f():
                s = None
                try:  # landlock: seccomp refuses socket(AF_UNIX) itself
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.connect("\\0" + {listener.abstract_name!r})
                    s.sendall(b"abstract-escaped")
                    return "connected"
                except OSError as exc:
                    return type(exc).__name__
                finally:
                    if s is not None:
                        s.close()
        """)
        seen = cand.call("f", timeout=self.timeout)
        arrived = [a for a in listener.settle() if a[0] == "abstract"]
        breach_if(arrived or seen == "connected", f"reached a host abstract socket: {arrived}")

    # -- file system -------------------------------------------------------------------------
    @provides("hides_host_files")
    def test_host_files_are_not_readable(self, make_candidate: Callable[..., Candidate],
                                         tmp_path: Path) -> None:
        secret = tmp_path / "task" / "hidden_tests.txt"
        secret.parent.mkdir()
        secret.write_text("HIDDEN-CONFORMANCE-ANSWER")
        import evoforge
        cand = make_candidate("""
            def f(paths):
                seen = {}
                for p in paths:
                    try:
                        with open(p, "rb") as fh:
                            seen[p] = fh.read(200).decode(errors="replace")
                    except OSError as exc:
                        seen[p] = type(exc).__name__
                return seen
        """)
        paths = [str(secret), evoforge.__file__]
        seen = cand.call("f", paths, timeout=self.timeout)
        readable = [p for p in paths if not seen[p].endswith("Error")]
        breach_if(readable, f"host files readable from the sandbox: {readable}")

    @provides("host_read_only")
    def test_writes_outside_the_work_dir_do_not_reach_the_host(
            self, make_candidate: Callable[..., Candidate], tmp_path: Path) -> None:
        canary = tmp_path / "host-folder"
        canary.mkdir()
        host_tmp = Path(tempfile.gettempdir()) / f"evoforge-conformance-{uuid.uuid4().hex}"
        cand = make_candidate("""
            import os
            def f(paths):
                done = []
                for p in paths:
                    try:
                        with open(p, "w") as fh:
                            fh.write("escaped")
                        done.append(p)
                    except OSError:
                        pass
                try:
                    with open(os.path.join("..", "runtime", "planted.txt"), "w") as fh:
                        fh.write("escaped")
                except OSError:
                    pass
                return done
        """)
        try:
            cand.call("f", [str(canary / "planted.txt"), str(host_tmp)], timeout=self.timeout)
            appeared = [str(p) for p in (canary / "planted.txt", host_tmp,
                                         cand.runtime_dir / "planted.txt") if p.exists()]
        finally:
            with contextlib.suppress(OSError):
                host_tmp.unlink()
        breach_if(appeared, f"files written outside the work dir appeared on the host: {appeared}")

    @provides("host_metadata_fixed")
    def test_host_file_modes_and_times_cannot_be_changed(
            self, make_candidate: Callable[..., Candidate], tmp_path: Path) -> None:
        """Landlock governs opening files, not chmod/chown/utime: a candidate that owns the
        host's files (uid 0 when evoforge runs as root; the user's own files otherwise) could
        make the interpreter unusable or a file setuid. A read-only mount refuses all three."""
        canary = tmp_path / "host-file.txt"
        canary.write_text("host")
        targets = [str(canary), os.path.realpath(sys.executable)]
        before = {p: os.stat(p) for p in targets}
        cand = make_candidate("""
            import os, stat
            def f(paths):
                changed = []
                for p in paths:
                    try:
                        os.utime(p, (1000000000, 1000000000))
                        changed.append(("utime", p))
                    except OSError:
                        pass
                    try:
                        os.chmod(p, stat.S_IMODE(os.stat(p).st_mode))   # the same mode: harmless
                        changed.append(("chmod", p))
                    except OSError:
                        pass
                return changed
        """)
        null_before = os.stat("/dev/null").st_ctime_ns
        # what a `run()` inherits: no descriptor of the host's own files (fd 0 was once the
        # host's /dev/null, which the candidate could fchmod through it)
        by_fd = ("import os, stat\n"
                 "for fd in (0, 3):\n"
                 "    try:\n"
                 "        os.fchmod(fd, stat.S_IMODE(os.fstat(fd).st_mode))\n"
                 "        os.utime(fd, None)\n"
                 "    except OSError:\n"
                 "        pass\n")
        try:
            allowed = cand.call("f", targets, timeout=self.timeout)
            cand.run([sys.executable, "-c", by_fd], timeout=self.timeout)
        finally:
            for p, st in before.items():   # put the times back, whatever happened
                with contextlib.suppress(OSError):
                    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
        breach_if(allowed, f"host file metadata changed from the sandbox: {allowed}")
        breach_if(os.stat("/dev/null").st_ctime_ns != null_before,
                  "the host's /dev/null was changed through a descriptor the sandbox inherited")

    @provides("isolates_candidates")
    def test_cannot_touch_another_candidates_folder(
            self, make_candidate: Callable[..., Candidate]) -> None:
        victim = make_candidate("def f():\n    return 'victim'\n")
        before = tree_digest(victim.root)
        attacker = make_candidate("""
            import os
            def f(folder, program):
                done = []
                for target, text in ((program, "def f():\\n    return 'owned'\\n"),
                                     (os.path.join(folder, "planted.txt"), "x")):
                    try:
                        with open(target, "w") as fh:
                            fh.write(text)
                        done.append(target)
                    except OSError:
                        pass
                return done
        """)
        attacker.call("f", str(victim.work_dir), str(victim.path), timeout=self.timeout)
        changed = tree_digest(victim.root) != before
        breach_if(changed or victim.call("f", timeout=self.timeout) != "victim",
                  "the attacker changed another candidate's folder")

    @provides("hides_processes")
    def test_other_processes_are_invisible(self, make_candidate: Callable[..., Candidate],
                                           marker: str) -> None:
        # A host process started with secrets in its environment, like the engine and the
        # evaluator host (which inherit the user's API keys).
        host = subprocess.Popen([PY, "-c", "import time; time.sleep(60)", marker],
                                env={**os.environ, **SECRET_ENV})
        try:
            cand = make_candidate("""
                import os
                def f(host_pid):
                    found = {}
                    pids = {host_pid, os.getppid()}
                    pids.update(int(p) for p in os.listdir("/proc") if p.isdigit())
                    for pid in sorted(pids):
                        try:
                            with open(f"/proc/{pid}/environ", "rb") as fh:
                                found[str(pid)] = fh.read().decode(errors="replace")
                        except OSError:
                            pass
                    return found
            """)
            found = cand.call("f", host.pid, timeout=self.timeout)
        finally:
            host.kill()
            host.wait()
        leaked = [pid for pid, env in found.items()
                  if any(v in env for v in SECRET_ENV.values())]
        breach_if(leaked, f"the environment of host processes {leaked} is readable")

    @provides("host_memory_private")
    def test_evaluator_memory_is_out_of_reach(self, make_candidate: Callable[..., Candidate],
                                              marker: str) -> None:
        # A trusted process holding a secret in memory, like the evaluator host does.
        host = subprocess.Popen(
            [PY, "-c", "import ctypes, sys, time\n"
             "s = ctypes.create_string_buffer(b'HOST-MEMORY-CONFORMANCE')\n"
             "print(ctypes.addressof(s), flush=True)\ntime.sleep(60)", marker],
            stdout=subprocess.PIPE, text=True)
        try:
            assert host.stdout is not None
            addr = int(host.stdout.readline())
            cand = make_candidate("""
                import ctypes, os
                class iovec(ctypes.Structure):
                    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
                def f(pid, addr):
                    libc = ctypes.CDLL(None, use_errno=True)
                    got = {}
                    try:
                        with open(f"/proc/{pid}/mem", "rb") as fh:
                            fh.seek(addr)
                            got["mem"] = fh.read(23).decode(errors="replace")
                    except (OSError, ValueError) as exc:
                        got["mem"] = type(exc).__name__
                    buf = ctypes.create_string_buffer(23)
                    local, remote = iovec(ctypes.addressof(buf), 23), iovec(addr, 23)
                    libc.process_vm_readv.restype = ctypes.c_ssize_t
                    n = libc.process_vm_readv(pid, ctypes.byref(local), 1, ctypes.byref(remote),
                                              1, 0)
                    got["vm_readv"] = buf.raw.decode(errors="replace") if n > 0 else "refused"
                    got["ptrace"] = "attached" if libc.ptrace(16, pid, 0, 0) == 0 else "refused"
                    return got
            """)
            got = cand.call("f", host.pid, addr, timeout=self.timeout)
        finally:
            host.kill()
            host.wait()
        leaked = {k: v for k, v in got.items() if "HOST-MEMORY" in v or v == "attached"}
        breach_if(leaked, f"the candidate reached a host process's memory: {leaked}")

    @provides("seccomp_filter")
    def test_escape_system_calls_are_refused(
            self, make_candidate: Callable[..., Candidate]) -> None:
        from evoforge.sandbox import seccomp

        if not seccomp.supported():
            raise Breach("no seccomp filter for this architecture")
        cand = make_candidate("""
            import ctypes
            def f(keyctl, io_uring_setup):
                libc = ctypes.CDLL(None, use_errno=True)
                libc.syscall.restype = ctypes.c_long
                seen = {}
                rc = libc.ptrace(0, 0, 0, 0)   # PTRACE_TRACEME
                seen["ptrace"] = ctypes.get_errno() if rc == -1 else 0
                for name, nr, args in (("keyctl", keyctl, (0, -3, 0)),
                                       ("io_uring_setup", io_uring_setup, (1, 0))):
                    rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
                    seen[name] = ctypes.get_errno() if rc == -1 else 0
                return seen
        """)
        seen = cand.call("f", seccomp.syscall_number("keyctl"),
                         seccomp.syscall_number("io_uring_setup"), timeout=self.timeout)
        allowed = {k: v for k, v in seen.items() if v != 1}   # 1 = EPERM
        breach_if(allowed, f"system calls not refused with EPERM: {allowed}")

    @provides("drops_capabilities")
    def test_no_capabilities(self, make_candidate: Callable[..., Candidate]) -> None:
        cand = make_candidate("""
            def f():
                for line in open("/proc/self/status"):
                    if line.startswith("CapEff:"):
                        return int(line.split()[1], 16)
        """)
        caps = cand.call("f", timeout=self.timeout)
        breach_if(caps != 0, f"the candidate holds capabilities {caps:#x}")
