"""The parent's side of warm sandboxes at the bwrap level: the zygote's bwrap command and what
each call's view is built from (the call's side is `bwrap_call.py`, run in the zygote).

Why a scratch root: a zygote is started once, but every candidate has its own folder, made
later. The zygote therefore sees the folder that holds them all (the temp folder, where
`Candidate.create` and the evaluator host make them) and each call's view keeps only its own
work dir (read-write) and runtime dir (read-only) of it, on a fresh tmpfs. A candidate whose
folders are elsewhere (an explicit `parent_dir` outside the temp folder, a path through a
symbolic link) runs cold, as does any bwrap that cannot give the zygote a user namespace of
its own (the "plain" recipe: bwrap run as real root without one would leave the zygote with
the host's capabilities).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Sequence

from evoforge.sandbox import isolation
from evoforge.sandbox.isolation import IsolationLevel

HERE = os.path.dirname(os.path.abspath(__file__))
# The zygote's files: sent as text on its stdin, so bwrap mounts nothing of evoforge's and a
# warm call's view is exactly a cold one's.
ZYGOTE_FILES = ("_zygote", "lockdown", "bwrap_call", "landlock", "seccomp", "_call_worker")
BOOT = ("import json, sys\n"
        "sources = json.loads(sys.stdin.buffer.read())\n"
        "exec(compile(sources['_zygote'], sources['__path__'], 'exec'), {'__name__': '__main__',"
        " '__file__': sources['__path__'], 'ZYGOTE_SOURCES': sources})\n")


def usable() -> bool:
    """Whether bwrap runs here with a user namespace (the only way a zygote holds no power
    outside the namespaces bwrap made)."""
    if not isolation.probe(IsolationLevel.BWRAP):
        return False
    recipe = isolation.recipe_for(IsolationLevel.BWRAP) or []
    return len(recipe) > 1 and recipe[1] == "userns" and scratch_root() is not None


def scratch_root() -> str | None:
    """The folder every candidate folder is made in (the temp folder, resolved), or None
    when it cannot serve (the file-system root, or a folder the system folders live in)."""
    root = os.path.realpath(tempfile.gettempdir())
    if root == "/" or _inside_any(root, isolation.system_dirs()):
        return None
    return root


def zygote_command(root: str) -> list[str]:
    """The zygote's argv (its options follow): bwrap, then the interpreter running `BOOT`,
    which reads `zygote_sources()` from its stdin."""
    recipe = isolation.recipe_for(IsolationLevel.BWRAP)
    assert recipe is not None
    prefix = isolation.bwrap_prefix(recipe[0], [], [], "/", user_ns=True, zygote_root=root)
    return prefix + [sys.executable, "-B", "-c", BOOT, "--bwrap"]


def zygote_sources() -> bytes:
    """What the zygote's stdin gets: its files' text, read now (JSON)."""
    sources: dict[str, str] = {"__path__": os.path.join(HERE, "_zygote.py")}
    for name in ZYGOTE_FILES:
        with open(os.path.join(HERE, f"{name}.py"), encoding="utf-8") as fh:
            sources[name] = fh.read()
    return json.dumps(sources).encode()


def uses_seccomp() -> bool:
    """Whether cold bwrap calls get the seccomp filter here (warm ones get the same)."""
    return "seccomp" in (isolation.recipe_for(IsolationLevel.BWRAP) or [])[2:]


def call_mounts(root: str, work_dir: str, ro_dirs: Sequence[str]) -> dict[str, object] | None:
    """What `bwrap_call.build_view` needs for one call, or None when the call must run cold
    (its folders are not plainly inside `root`)."""
    mine = [work_dir, *ro_dirs]
    if any(os.path.realpath(p) != os.path.abspath(p) or not _inside(p, root) for p in mine):
        return None
    # the Python installation where a call's fresh tmpfs would cover it (a venv in /tmp)
    covered = [p for p in isolation.python_paths() if _inside(p, root) or _inside(p, "/tmp")]
    return {"root": root, "rw": [work_dir], "ro": [*ro_dirs, *covered],
            "tmpfs": isolation.TMPFS_BYTES, "seccomp": uses_seccomp()}


def _inside(path: str, root: str) -> bool:
    path = os.path.abspath(path)
    return path != root and path.startswith(root.rstrip("/") + "/")


def _inside_any(path: str, folders: Sequence[str]) -> bool:
    return any(path == d or path.startswith(d + "/") or d.startswith(path + "/")
               for d in folders)
