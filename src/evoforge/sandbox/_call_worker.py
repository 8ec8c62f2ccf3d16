"""Worker that runs ONE function of a candidate program, inside the sandbox.

Usage: ``python _call_worker.py PROGRAM RESULT_FD`` with the JSON request on stdin. PROGRAM is
the candidate's file, or ``module:NAME:FOLDER`` for a folder program (`module_target`): module
NAME imported with FOLDER first on the path, so its package's relative imports work.

Why it looks like this:
- It is copied next to the candidate (into a read-only runtime dir) instead of being imported
  from the evoforge source tree, so the sandbox never needs to see evoforge's files. Hence it
  uses the standard library only, and also holds the plain-data codec the parent reuses.
- The response goes to a dedicated pipe (RESULT_FD), not stdout: whatever the candidate prints
  is captured separately and cannot corrupt the answer.
- Never pickle: arguments and results are JSON with a few tagged forms (numpy arrays as
  base64 bytes + dtype + shape). NaN and inf survive (``allow_nan``); the evaluator decides.
- numpy is imported only when an array actually appears, to keep the call overhead low.
"""
from __future__ import annotations

import base64
import json
import os
import sys
import traceback
from typing import Any

TAGS = ("__ndarray__", "__bytes__", "__complex__", "__items__")
ALLOWED = "None, bool, int, float, str, bytes, complex, list, tuple, dict, numpy arrays/scalars"


class EncodeError(TypeError):
    """A value cannot be sent across the sandbox boundary as plain data."""


def encode(obj: Any, where: str = "value") -> Any:
    """Turn `obj` into JSON-able data (tuples become lists). Raises EncodeError with a path."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [encode(item, f"{where}[{i}]") for i, item in enumerate(obj)]
    if isinstance(obj, dict):
        if all(isinstance(k, str) for k in obj) and not any(k in TAGS for k in obj):
            return {k: encode(v, f"{where}[{k!r}]") for k, v in obj.items()}
        items = []
        for k, v in obj.items():
            items.append([encode(k, f"{where} key {k!r}"), encode(v, f"{where}[{k!r}]")])
        return {"__items__": items}
    if isinstance(obj, (bytes, bytearray, memoryview)):
        return {"__bytes__": base64.b64encode(bytes(obj)).decode("ascii")}
    if isinstance(obj, complex):
        return {"__complex__": [obj.real, obj.imag]}
    module = type(obj).__module__
    if module == "numpy":
        if type(obj).__name__ == "ndarray":
            if obj.dtype.hasobject:
                raise EncodeError(f"{where} is a numpy array of dtype=object, which cannot be "
                                  "sent as plain data; convert it to a list or a numeric array")
            return {
                "__ndarray__": base64.b64encode(obj.tobytes(order="C")).decode("ascii"),
                "dtype": obj.dtype.str,
                "shape": list(obj.shape),
            }
        if hasattr(obj, "item"):  # numpy scalar: np.int64, np.bool_, np.float32 ...
            return encode(obj.item(), where)
    raise EncodeError(
        f"{where} is a {type(obj).__module__}.{type(obj).__qualname__} object, which cannot "
        f"be sent across the sandbox boundary (allowed: {ALLOWED})"
    )


def decode(obj: Any) -> Any:
    """Inverse of `encode`. numpy is imported only when an array is present."""
    if isinstance(obj, list):
        return [decode(item) for item in obj]
    if isinstance(obj, dict):
        if "__ndarray__" in obj:
            import numpy

            raw = base64.b64decode(obj["__ndarray__"])
            dtype = numpy.dtype(obj["dtype"])
            if dtype.hasobject:  # never build Python objects from untrusted bytes
                raise ValueError("object arrays cannot be decoded")
            arr = numpy.frombuffer(raw, dtype=dtype)
            return arr.reshape(tuple(obj["shape"])).copy()
        if "__bytes__" in obj:
            return base64.b64decode(obj["__bytes__"])
        if "__complex__" in obj:
            real, imag = obj["__complex__"]
            return complex(real, imag)
        if "__items__" in obj:
            return {_hashable(decode(k)): decode(v) for k, v in obj["__items__"]}
        return {k: decode(v) for k, v in obj.items()}
    return obj


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, allow_nan=True, separators=(",", ":")).encode("utf-8")


def _error(exc: BaseException, phase: str, program: str) -> dict[str, Any]:
    """Describe an exception of the candidate, pointing at the candidate's own line."""
    frames = traceback.extract_tb(exc.__traceback__)
    here = os.path.abspath(__file__)
    frames = [f for f in frames if os.path.abspath(f.filename) != here]
    name, where = _split_target(program)
    root = os.path.abspath(where)
    lineno, file = None, None
    for frame in frames:
        path = os.path.abspath(frame.filename)
        if name is None and path == root:
            lineno = frame.lineno
        elif name is not None and path.startswith(root + os.sep):   # the last frame in the program's folder
            lineno, file = frame.lineno, os.path.relpath(path, root)
    if isinstance(exc, SyntaxError) and exc.lineno is not None:
        lineno = exc.lineno
        if name is not None and exc.filename and os.path.abspath(exc.filename).startswith(root + os.sep):
            file = os.path.relpath(os.path.abspath(exc.filename), root)
    lines = ["Traceback (most recent call last):\n"] if frames else []
    lines += traceback.format_list(frames)
    lines += traceback.format_exception_only(type(exc), exc)
    if isinstance(exc, SystemExit):
        message = f"sys.exit({exc.code!r})"
    else:
        message = str(exc)
    return {
        "type": type(exc).__name__,
        "message": message[:2000],
        "lineno": lineno,
        "file": file,   # a folder program: the file (relative to its folder) the line is in
        "phase": phase,
        "traceback": "".join(lines)[-8000:],
    }


MODULE_PREFIX = "module:"


def module_target(name: str, root: str) -> str:
    """The PROGRAM argument for a folder program: import module `name` with `root` on the path."""
    return f"{MODULE_PREFIX}{name}:{root}"


def _split_target(program: str) -> tuple[str | None, str]:
    """(module name or None, the file or folder the candidate's code is in)."""
    if program.startswith(MODULE_PREFIX):
        name, _, root = program[len(MODULE_PREFIX):].partition(":")
        return name, root
    return None, program


def program_dir(program: str) -> str:
    """The folder the candidate's own imports resolve in (sys.path[0] of the worker)."""
    name, where = _split_target(program)
    return os.path.abspath(where) if name is not None else os.path.dirname(os.path.abspath(where))


def _load(program: str) -> Any:
    import importlib
    import importlib.util

    name, where = _split_target(program)
    if name is not None:   # a folder program: its entry module, imported as a package member
        return importlib.import_module(name)
    spec = importlib.util.spec_from_file_location("candidate", where)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {program}")
    module = importlib.util.module_from_spec(spec)
    sys.modules["candidate"] = module
    spec.loader.exec_module(module)
    return module


def run(program: str, request: dict[str, Any]) -> dict[str, Any]:
    """Import the candidate, call the requested function, return the response dict."""
    name = request["function"]
    try:
        args = decode(request.get("args", []))
        kwargs = decode(request.get("kwargs", {}))
    except BaseException as exc:  # a broken request is the parent's bug, still report it
        return {"ok": False, "error": _error(exc, "request", program)}
    try:
        module = _load(program)
    except BaseException as exc:
        return {"ok": False, "error": _error(exc, "import", program)}
    function = getattr(module, name, None)
    if not callable(function):
        what = "no function" if function is None else f"a non-callable {type(function).__name__}"
        return {"ok": False, "error": {
            "type": "AttributeError", "message": f"the candidate program has {what} '{name}'",
            "lineno": None, "phase": "lookup", "traceback": ""}}
    try:
        value = function(*args, **kwargs)
    except BaseException as exc:
        return {"ok": False, "error": _error(exc, "call", program)}
    try:
        return {"ok": True, "value": encode(value, f"the value returned by {name}()")}
    except EncodeError as exc:
        return {"ok": False, "error": {"type": "EncodeError", "message": str(exc),
                                       "lineno": None, "phase": "encode", "traceback": ""}}
    except RecursionError:
        return {"ok": False, "error": {"type": "EncodeError", "lineno": None, "phase": "encode",
                                       "message": f"the value returned by {name}() is too "
                                                  "deeply nested (or self-referencing)",
                                       "traceback": ""}}


class CpuTimeExceeded(Exception):
    """Raised in the candidate when the CPU soft limit (RLIMIT_CPU) is reached."""


def _on_sigxcpu(signum: int, frame: Any) -> None:
    raise CpuTimeExceeded("CPU time limit exceeded")


def main(argv: list[str]) -> None:
    program, result_fd = argv[1], int(argv[2])
    import signal

    # Soft CPU limit -> an exception the parent can name (the hard limit, 1 s later, kills).
    signal.signal(signal.SIGXCPU, _on_sigxcpu)
    os.set_inheritable(result_fd, False)  # children the candidate spawns must not hold it
    out = os.fdopen(result_fd, "wb")
    request = json.loads(sys.stdin.buffer.read())
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    sys.argv = [program]
    sys.path[0] = program_dir(program)  # the candidate may import its sibling modules, not ours
    worker_pid = os.getpid()
    response = run(program, request)
    if os.getpid() != worker_pid:  # a child the candidate forked returned through us: only the worker answers
        os._exit(0)
    try:
        data = dumps(response)
    except (ValueError, TypeError, RecursionError) as exc:  # pragma: no cover - defensive
        data = dumps({"ok": False, "error": {"type": "EncodeError", "message": str(exc),
                                             "lineno": None, "phase": "encode", "traceback": ""}})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # the candidate may have closed or replaced them
            pass
    out.write(data)
    out.close()
    # Skip interpreter shutdown: non-daemon threads or atexit hooks of the candidate must not
    # keep the process alive (or run code) after the answer is sent.
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
