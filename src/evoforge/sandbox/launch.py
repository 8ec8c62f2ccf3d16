"""Entry point of the landlock level's trusted launcher: ``python -I -S launch.py ... -- argv``.

Kept tiny on purpose: Python always compiles the script it is started with, while modules come
from the bytecode cache. This stub loads `lockdown.py` (the launcher), `landlock.py` and
`seccomp.py` from their cached bytecode when it is fresh (the engine importing them wrote it;
compiling the three costs ~50 ms per candidate call on a busy machine), else from source, then
runs `lockdown.main`. importlib.util is avoided too: its imports cost ~20 ms.
"""
import marshal
import os
import sys
from _frozen_importlib_external import MAGIC_NUMBER  # loaded at start-up already

HERE = os.path.dirname(os.path.abspath(__file__))


class Module:
    """One helper file executed into its own namespace (attributes = its globals)."""

    def __init__(self, name: str) -> None:
        path = os.path.join(HERE, f"{name}.py")
        code = cached_code(path, name)
        if code is None:
            with open(path, "rb") as fh:
                code = compile(fh.read(), path, "exec")
        namespace: dict = {"__name__": f"evoforge_sandbox_{name}", "__file__": path}
        exec(code, namespace)  # noqa: S102 - our own trusted file
        self.__dict__.update(namespace)


def cached_code(path: str, name: str) -> object:
    """The code object of `path` from __pycache__ when its timestamp and size match, else
    None (then the caller compiles the source)."""
    pyc = os.path.join(HERE, "__pycache__", f"{name}.{sys.implementation.cache_tag}.pyc")
    try:
        with open(pyc, "rb") as fh:
            data = fh.read()
        st = os.stat(path)
    except OSError:
        return None
    header = [int.from_bytes(data[i:i + 4], "little") for i in (4, 8, 12)]
    if data[:4] != MAGIC_NUMBER or header != [0, int(st.st_mtime) & 0xFFFFFFFF,
                                              st.st_size & 0xFFFFFFFF]:
        return None
    try:
        return marshal.loads(data[16:])
    except (EOFError, ValueError, TypeError):
        return None


if __name__ == "__main__":
    try:
        modules = [Module(name) for name in ("lockdown", "landlock", "seccomp")]
    except (OSError, SyntaxError) as exc:
        print(f"evoforge sandbox launcher: cannot load its helpers: {exc}", file=sys.stderr)
        os._exit(125)
    modules[0].main(sys.argv[1:], modules[1], modules[2])
