"""The seccomp filter of the landlock level, installed for real in a child process."""
from __future__ import annotations

import signal
import struct
import subprocess
import sys
import textwrap

import pytest

from evoforge.sandbox import seccomp

pytestmark = pytest.mark.skipif(not seccomp.supported() or not sys.platform.startswith("linux"),
                                reason="no seccomp filter for this machine")


def _in_child(code: str) -> subprocess.CompletedProcess[str]:
    prelude = textwrap.dedent(f"""
        import ctypes, errno, importlib.util, os, socket
        spec = importlib.util.spec_from_file_location("sc", {seccomp.__file__!r})
        sc = importlib.util.module_from_spec(spec); spec.loader.exec_module(sc)
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        assert libc.prctl(38, 1, 0, 0, 0) == 0       # PR_SET_NO_NEW_PRIVS
        def call(nr, *args):
            rc = libc.syscall(ctypes.c_long(nr), *[ctypes.c_long(a) for a in args])
            return "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]
    """)
    return subprocess.run([sys.executable, "-I", "-S", "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=60)


def test_classic_escapes_return_eperm_and_the_rest_works():
    out = _in_child("""
        sc.install(sc.build_filter(deny_families=[socket.AF_UNIX]))
        seen = {name: call(sc.syscall_number(name), 0, 0, 0, 0) for name in
                ("ptrace", "process_vm_readv", "mount", "keyctl", "bpf", "perf_event_open",
                 "userfaultfd", "io_uring_setup", "open_by_handle_at", "pidfd_getfd")}
        seen["getpid"] = "ok" if os.getpid() > 0 else "broken"
        try:
            socket.socket(socket.AF_UNIX); seen["unix"] = "created"
        except OSError as exc:
            seen["unix"] = errno.errorcode[exc.errno]
        a, b = socket.socketpair(); a.send(b"x"); seen["socketpair"] = b.recv(1).decode()
        socket.socket(socket.AF_INET).close(); seen["inet"] = "created"
        print(repr(seen))
    """)
    assert out.returncode == 0, out.stderr
    seen = eval(out.stdout.strip())  # noqa: S307 - our own repr()
    assert {k: v for k, v in seen.items() if k not in ("getpid", "socketpair", "inet")} == {
        k: "EPERM" for k in seen if k not in ("getpid", "socketpair", "inet")}, seen
    assert seen["getpid"] == "ok" and seen["socketpair"] == "x" and seen["inet"] == "created"


def test_without_a_network_namespace_inet_sockets_are_refused_too():
    out = _in_child("""
        sc.install(sc.build_filter(deny_families=[1, 2, 10]))
        for family in (socket.AF_INET, socket.AF_INET6):
            try:
                socket.socket(family, socket.SOCK_DGRAM); print("created")
            except OSError as exc:
                print(errno.errorcode[exc.errno])
    """)
    assert out.stdout.split() == ["EPERM", "EPERM"], out.stderr


@pytest.mark.skipif(seccomp.machine() != "x86_64", reason="x32 numbers exist on x86_64 only")
def test_x32_numbers_are_refused():
    # getpid through the x32 ABI would bypass a filter that only compares x86_64 numbers
    out = _in_child("""
        sc.install(sc.build_filter())
        print(call(sc.X32_SYSCALL_BIT | 39))
    """)
    assert out.stdout.strip() == "EPERM", out.stderr


def test_a_foreign_architecture_is_killed():
    """A filter whose arch check does not match kills the process at its next system call:
    the arch check is really the first thing the filter does."""
    other = "aarch64" if seccomp.machine() == "x86_64" else "x86_64"
    out = _in_child(f"""
        sc.install(sc.build_filter({other!r}))
        os.write(1, b"survived\\n")
    """)
    assert out.returncode == -signal.SIGSYS and "survived" not in out.stdout


def test_filter_layout():
    prog = seccomp.build_filter("aarch64")
    assert len(prog) % 8 == 0
    code, jt, jf, k = struct.unpack("=HBBI", prog[:8])
    assert (code, k) == (0x20, 4)  # load seccomp_data.arch first
    assert struct.unpack("=HBBI", prog[8:16])[3] == seccomp.AUDIT_ARCH["aarch64"]
    assert struct.unpack("=HBBI", prog[-8:])[3] == seccomp.RET_KILL_PROCESS
    with pytest.raises(seccomp.SeccompError, match="no seccomp filter for architecture"):
        seccomp.build_filter("riscv64")


def test_bwrap_gets_the_filter_through_a_private_file(tmp_path):
    from sandbox_helpers import HAS_BWRAP

    from evoforge.sandbox import bwrap_seccomp
    from evoforge.sandbox.isolation import IsolationLevel, recipe_for, wrap_command

    if not HAS_BWRAP or "seccomp" not in (recipe_for(IsolationLevel.BWRAP) or [])[2:]:
        pytest.skip("bubblewrap with our seccomp filter is not usable here")
    argv = wrap_command(IsolationLevel.BWRAP, ["python3", "x.py"], work_dir=str(tmp_path))
    path = bwrap_seccomp.filter_file()
    assert argv[:4] == ["/bin/sh", "-c", bwrap_seccomp._SCRIPT, path]
    assert argv[-3:] == ["--", "python3", "x.py"]
    import os
    import stat as st

    assert st.S_IMODE(os.stat(path).st_mode) == 0o400
    assert st.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    with open(path, "rb") as fh:
        assert fh.read() == seccomp.build_filter(deny_families=())
    # a wrong filter in its place is noticed and rewritten before it is handed to bwrap
    os.chmod(path, 0o600)
    with open(path, "wb") as fh:
        fh.write(b"\0" * 8)
    assert bwrap_seccomp.filter_file() == path
    with open(path, "rb") as fh:
        assert fh.read() == seccomp.build_filter(deny_families=())


@pytest.mark.parametrize("fds", [(9,), (8,), (5,), (8, 9), (7, 8, 9)])
def test_the_filter_never_takes_an_inherited_descriptor(tmp_path, fds):
    """The shell in front of bwrap opens the filter on the highest free descriptor of 9..3 (a
    result pipe on 9 was clobbered once, an interactive session's pipes on 8 and 9 later:
    every answer failed with EBADF)."""
    from sandbox_helpers import HAS_BWRAP

    from evoforge.sandbox.isolation import IsolationLevel, recipe_for, wrap_command

    if not HAS_BWRAP or "seccomp" not in (recipe_for(IsolationLevel.BWRAP) or [])[2:]:
        pytest.skip("bubblewrap with our seccomp filter is not usable here")
    child = (f"import os\nfor fd in {fds!r}: os.write(fd, b'answer%d' % fd)\n"
             "import ctypes; libc = ctypes.CDLL(None, use_errno=True)\n"
             "print('ptrace', libc.ptrace(0, 0, 0, 0), ctypes.get_errno())")
    argv = wrap_command(IsolationLevel.BWRAP, [sys.executable, "-c", child], work_dir=str(tmp_path))
    driver = textwrap.dedent(f"""
        import os, subprocess, sys
        readers = []
        for fd in {fds!r}:
            r, w = os.pipe()
            os.dup2(w, fd); os.close(w)
            readers.append(r)
        p = subprocess.run({argv!r}, pass_fds={fds!r}, capture_output=True, text=True, timeout=120)
        for fd in {fds!r}:
            os.close(fd)
        got = b" ".join(os.read(r, 100) for r in readers)
        print(repr(got), p.returncode, p.stdout.strip(), p.stderr.strip()[-300:])
    """)
    out = subprocess.run([sys.executable, "-c", driver], capture_output=True, text=True, timeout=300)
    answers = " ".join(f"answer{fd}" for fd in fds)
    assert out.stdout.startswith(f"b'{answers}' 0 ptrace -1 1"), out.stdout + out.stderr  # EPERM
