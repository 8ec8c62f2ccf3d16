"""The seccomp filter of `seccomp.py` under bubblewrap too, for about a millisecond per call.

bwrap installs a compiled BPF program given on one of *its* file descriptors (``--seccomp FD``),
just before it execs the candidate. `isolation.wrap_command` only returns an argv, and
`_process.run_process` closes every descriptor but the result pipe, so the filter is written
once per engine process to a private file (a 0700 folder, the file 0400, removed at exit) and
opened by a tiny shell in front of bwrap: ``sh -c 'exec "$@" 9<"$0"' FILE bwrap ...`` (the shell
execs bwrap: no extra process). Under bwrap the candidate cannot reach the host's /tmp, so it
cannot swap the file.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

from evoforge.sandbox import seccomp

FD = 9
_SHELL = "/bin/sh"
_state: dict[str, str] = {}


def filter_file() -> str | None:
    """The path of this process's compiled filter (written on first use); None when no filter
    can be built here (architecture) or written."""
    path = _state.get("path")
    if path and os.path.exists(path):
        return path
    if not seccomp.supported() or not os.path.exists(_SHELL):
        return None
    try:
        program = seccomp.build_filter(deny_families=())
        folder = tempfile.mkdtemp(prefix=f"efseccomp-{os.getpid()}-")
        path = os.path.join(folder, "filter.bpf")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o400)
        with os.fdopen(fd, "wb") as fh:
            fh.write(program)
    except (OSError, seccomp.SeccompError):
        return None
    atexit.register(shutil.rmtree, folder, True)
    _state["path"] = path
    return path


def wrap(bwrap_argv: list[str]) -> list[str]:
    """`bwrap_argv` (starting with the bwrap executable) with the filter on FD, or unchanged
    when no filter file can be had."""
    path = filter_file()
    if path is None:
        return bwrap_argv
    return [_SHELL, "-c", f'exec "$@" {FD}<"$0"', path, bwrap_argv[0], "--seccomp", str(FD),
            *bwrap_argv[1:]]
