"""Worker that runs ONE function of a candidate that queries a trusted oracle, in the sandbox.

Usage: ``python _interactive_worker.py CODEC PROGRAM UP_FD DOWN_FD``. It is the interactive
twin of `_call_worker.py` (copied beside it into the read-only runtime dir, standard library
only) and borrows that worker's plain-data codec, loader and error description from CODEC (the
copied `_call_worker.py`). The conversation is one JSON object per line, never pickle:

    parent -> worker   {"call": {"function", "args", "kwargs"}}  first, then one answer per
                       query: {"a": VALUE} or {"refused": "why"} (after which the parent kills)
    worker -> parent   {"q": [ARG, ...]} per query, {"done": RESPONSE} once at the end
                       (RESPONSE as `_call_worker.run` builds it: {"ok": true, "value": ...})

The candidate's function is called as ``function(query, *args, **kwargs)``; ``query(*args)``
sends one query and blocks until the answer comes. Nothing of the oracle is in this process:
only the two pipe ends. Everything the candidate could forge here is re-checked by the parent.
"""
from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
from typing import Any


class QueryRefused(Exception):
    """The evaluator refused a query (over the budget, or invalid); the session is over."""


def _load_codec(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("evoforge_call_worker", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load the codec at {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _make_query(codec: Any, up: Any, down: Any) -> Any:
    lock = threading.Lock()

    def query(*args: Any) -> Any:
        """Ask the evaluator's oracle; returns its answer (plain data)."""
        line = codec.dumps({"q": codec.encode(list(args), "the query")}) + b"\n"
        with lock:
            up.write(line)
            up.flush()
            reply = down.readline()
        if not reply:
            raise QueryRefused("the evaluator closed the session")
        message = json.loads(reply)
        if "a" in message:
            return codec.decode(message["a"])
        raise QueryRefused(str(message.get("refused", "query refused")))

    query.__name__ = "query"
    return query


def run(codec: Any, program: str, request: dict[str, Any], query: Any) -> dict[str, Any]:
    """Import the candidate, call ``function(query, *args, **kwargs)``, build the response."""
    name = request["function"]
    try:
        args = codec.decode(request.get("args", []))
        kwargs = codec.decode(request.get("kwargs", {}))
        module = codec._load(program)
    except BaseException as exc:
        return {"ok": False, "error": codec._error(exc, "import", program)}
    function = getattr(module, name, None)
    if not callable(function):
        what = "no function" if function is None else f"a non-callable {type(function).__name__}"
        return {"ok": False, "error": {
            "type": "AttributeError", "message": f"the candidate program has {what} '{name}'",
            "lineno": None, "phase": "lookup", "traceback": ""}}
    try:
        value = function(query, *args, **kwargs)
    except BaseException as exc:
        if exc.__traceback__ is not None:  # start the traceback at the candidate's code
            exc.__traceback__ = exc.__traceback__.tb_next
        return {"ok": False, "error": codec._error(exc, "call", program)}
    try:
        return {"ok": True, "value": codec.encode(value, f"the value returned by {name}()")}
    except (codec.EncodeError, RecursionError) as exc:
        return {"ok": False, "error": {"type": "EncodeError", "message": str(exc)[:2000],
                                       "lineno": None, "phase": "encode", "traceback": ""}}


def main(argv: list[str]) -> None:
    codec_path, program, up_fd, down_fd = argv[1], argv[2], int(argv[3]), int(argv[4])
    import signal

    codec = _load_codec(codec_path)
    signal.signal(signal.SIGXCPU, codec._on_sigxcpu)
    for fd in (up_fd, down_fd):
        os.set_inheritable(fd, False)  # programs the candidate starts must not hold them
    up = os.fdopen(up_fd, "wb")
    down = os.fdopen(down_fd, "rb")
    request = json.loads(down.readline())["call"]
    sys.argv = [program]
    sys.path[0] = codec.program_dir(program)
    worker_pid = os.getpid()
    response = run(codec, program, request, _make_query(codec, up, down))
    if os.getpid() != worker_pid:  # a fork of the candidate returned through us
        os._exit(0)
    try:
        data = codec.dumps({"done": response})
    except (ValueError, TypeError, RecursionError) as exc:  # pragma: no cover - defensive
        data = codec.dumps({"done": {"ok": False, "error": {
            "type": "EncodeError", "message": str(exc), "lineno": None, "phase": "encode",
            "traceback": ""}}})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    try:
        up.write(data + b"\n")
        up.close()
    except OSError:
        pass
    os._exit(0)


if __name__ == "__main__":
    main(sys.argv)
