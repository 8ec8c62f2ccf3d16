"""``evoforge ui`` and ``evoforge report``: the dashboard and report commands, registered by `evoforge.cli`."""
from __future__ import annotations

import argparse
import signal
import sys
import webbrowser
from pathlib import Path


def cmd_ui(args: argparse.Namespace) -> int:
    from .server import serve
    from .sources import RunRegistry, default_refs

    registry = RunRegistry(args.runs or default_refs())

    def ready(server) -> None:  # type: ignore[no-untyped-def]
        names = ", ".join(h.info.name for h in registry.runs()) or "(no runs yet)"
        print(f"evoforge dashboard on {server.url}  (runs: {names}; read-only; Ctrl-C to stop)", file=sys.stderr, flush=True)
        if args.open:
            webbrowser.open(server.url)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt   # SIGTERM (kill, docker stop, systemd) stops it as Ctrl-C does

    signal.signal(signal.SIGTERM, stop)
    try:
        serve(registry, args.host, args.port, allow_remote=args.allow_remote, ready=ready,
              log=(lambda line: print(line, file=sys.stderr)) if args.verbose else None)
    except KeyboardInterrupt:
        pass
    finally:
        registry.close()
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from .report import write_report

    out = write_report(args.run, Path(args.output) if args.output else None, png=not args.no_png)
    print(f"report written to {out}", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    u = sub.add_parser("ui", help="live dashboard of one or more runs in the browser (local, read-only)")
    u.add_argument("runs", nargs="*", metavar="RUN",
                   help="run folder, run.db, evoforge research --out folder or storage URL[#RUN_NAME]; several to compare "
                        "(default: run folders under runs/)")
    u.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    u.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; loopback only)")
    u.add_argument("--allow-remote", action="store_true",
                   help="allow binding a non-loopback address and serving other machines (shows prompts and code!)")
    u.add_argument("--open", action="store_true", help="open the dashboard in the default browser")
    u.add_argument("--verbose", action="store_true", help="log every request")
    u.set_defaults(func=cmd_ui)

    r = sub.add_parser("report", help="write a self-contained HTML report of a run (and PNG plots)")
    r.add_argument("run", help="run folder, run.db or storage URL[#RUN_NAME]")
    r.add_argument("-o", "--output", help="HTML file to write (default RUN_FOLDER/report.html or ./report-RUN.html)")
    r.add_argument("--no-png", action="store_true", help="only the HTML file (its plots are inline SVG)")
    r.set_defaults(func=cmd_report)
