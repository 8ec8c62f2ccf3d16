"""CLI registration for ``evoforge serve-model``."""
from __future__ import annotations

import argparse
import time


def cmd_serve_model(args: argparse.Namespace) -> int:
    from ..errors import UserError
    from .serve import serve_model

    if args.host not in ("127.0.0.1", "localhost", "::1") and not args.allow_remote:
        raise UserError(f"refusing to listen on {args.host}: the model server has no authentication. "
                        "Pass --allow-remote if you really mean it.")
    try:
        server = serve_model(args.model, host=args.host, port=args.port)
    except OSError as exc:
        raise UserError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from None
    print(f"serving {args.model} at {server.base_url}  (model string: openai/{args.model}@{server.base_url})", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.close()
    return 0


def add_commands(sub: "argparse._SubParsersAction") -> None:
    s = sub.add_parser("serve-model", help="serve the embedded model (or a GGUF file) over an OpenAI-compatible API")
    s.add_argument("model", nargs="?", default="embedded", help="embedded (default) or local/PATH.gguf")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8080)
    s.add_argument("--allow-remote", action="store_true", help="allow a non-loopback --host")
    s.set_defaults(func=cmd_serve_model)
