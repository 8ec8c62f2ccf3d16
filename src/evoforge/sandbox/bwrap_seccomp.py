"""The seccomp filter of `seccomp.py` under bubblewrap too, for about a millisecond per call.

bwrap installs a compiled BPF program given on one of *its* file descriptors (``--seccomp FD``),
just before it execs the candidate. `isolation.wrap_command` only returns an argv, and
`_process.run_process` closes every descriptor but the result pipe, so the filter lives in a
file opened by a tiny shell in front of bwrap, which then execs bwrap (no extra process). The
shell opens it on the highest free descriptor of 9 down to 3: clobbering an inherited one
made every answer fail with EBADF (the result pipe on 9 once; an interactive session's two
pipes on 8 and 9, in an evaluator host that holds zygote descriptors, later).

The file is shared by every process of the user (the engine, each evaluator host, which ends
with os._exit and could not clean up a file of its own): ``$TMPDIR/efseccomp-UID-HASH/filter.bpf``
in a 0700 folder, named by the filter's hash, written atomically, and checked byte for byte each
time it is handed out. Under bwrap a candidate cannot reach the host's /tmp to swap it.
"""
from __future__ import annotations

import hashlib
import os
import tempfile

from evoforge.sandbox import seccomp

FD, LOWEST_FD = 9, 3
_SHELL = "/bin/sh"
# $0 = the filter file, $1 = bwrap, the rest = bwrap's arguments. At most three descriptors
# besides stdio are inherited (the result pipe, an interactive session's two), so one of 9..3
# is always free; were none, the launch fails (exit 125) rather than clobber one.
_SCRIPT = (f'f=$0; b=$1; shift; n={FD}; while [ -e /proc/self/fd/$n ]; do n=$((n-1)); done; '
           f'[ $n -ge {LOWEST_FD} ] || exit 125; '
           'eval "exec \\"\\$b\\" --seccomp $n \\"\\$@\\" $n<\\"\\$f\\""')


def _expected() -> bytes:
    return seccomp.build_filter(deny_families=())


def filter_file() -> str | None:
    """The path of the compiled filter (written when missing or wrong); None when no filter can
    be built here (architecture), written, or trusted (a folder not ours)."""
    if not seccomp.supported() or not os.path.exists(_SHELL):
        return None
    try:
        program = _expected()
        folder = os.path.join(tempfile.gettempdir(), f"efseccomp-{os.getuid()}-"
                              f"{hashlib.sha256(program).hexdigest()[:16]}")
        path = os.path.join(folder, "filter.bpf")
        try:
            os.mkdir(folder, 0o700)
        except FileExistsError:
            pass
        st = os.lstat(folder)
        if st.st_uid != os.getuid() or st.st_mode & 0o077 or not os.path.isdir(folder):
            return None
        try:
            with open(path, "rb") as fh:
                if fh.read() == program:
                    return path
        except FileNotFoundError:
            pass
        tmp = f"{path}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o400)
        with os.fdopen(fd, "wb") as fh:
            fh.write(program)
        os.replace(tmp, path)
    except (OSError, seccomp.SeccompError):
        return None
    return path


def wrap(bwrap_argv: list[str]) -> list[str]:
    """`bwrap_argv` (starting with the bwrap executable) with the filter on FD, or unchanged
    when no filter file can be had."""
    path = filter_file()
    if path is None:
        return bwrap_argv
    return [_SHELL, "-c", _SCRIPT, path, *bwrap_argv]
