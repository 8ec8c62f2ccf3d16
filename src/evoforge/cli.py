"""``evoforge …``: the command line. User errors exit with code 2 and one clear message
(no traceback unless ``--debug``); everything here mirrors the Python API."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from .errors import UserError


def _console():
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _log(text: str) -> None:
    _console().print(text, markup=False)


def _overrides(pairs: list[str] | None) -> dict[str, Any]:
    from .config import parse_override

    return dict(parse_override(p) for p in pairs or [])


def _print_result(result: Any) -> None:
    best = result.best
    out = sys.stdout
    if best is None:
        out.write(f"No valid program was found ({result.stop_reason}). Inspect attempts with: evoforge export {result.run_dir or result.storage_url}\n")
        return
    s = result.stats
    out.write("=" * 72 + "\n")
    out.write(f"best score {best.score:.6g}  (program {best.id}, proposal {best.proposal_index}, {best.mutation})\n")
    out.write(f"stopped: {result.stop_reason}; {s['proposals']} proposals, {s['llm_calls']} model calls, "
              f"{s['operator_proposals']} operator proposals, {s['tokens']} tokens\n")
    after = s.get("best_after")
    if after:
        out.write(f"best first reached after {after['proposals']} proposals: {after['model_calls']} model calls, "
                  f"{after['evaluations']} evaluations\n")
    for line in _front_lines(result):
        out.write(line + "\n")
    out.write(f"run folder: {result.run_dir}\n")
    out.write("=" * 72 + "\n")
    out.write((best.code or "") + ("\n" if best.code and not best.code.endswith("\n") else ""))


def _front_lines(result: Any) -> list[str]:
    """The Pareto front of a many-objective run (nothing for a single-objective one)."""
    from .engine.objectives import front_lines, stored_front
    from .storage.base import open_storage

    storage = open_storage(result.storage_url.split("#", 1)[0], read_only=True, create=False)
    try:
        found = stored_front(storage, result.run_id)
    finally:
        storage.close()
    return front_lines(*found) if found is not None else []


def cmd_run(args: argparse.Namespace) -> int:
    from .engine.session import run

    overrides = _overrides(args.set)
    if args.strategy:  # the strategy and its numeric policy (config_overrides()); --set wins
        from .rsi.policy import strategy_overrides

        overrides = {**strategy_overrides(args.strategy), **overrides}
    result = run(
        args.task, llm=args.llm, budget=args.budget, workers=args.workers, storage=args.storage, seed=args.seed,
        run_dir=args.run_dir, executor=args.executor, overrides=overrides, progress=not args.quiet,
        log=None if args.quiet else _log,
    )
    _print_result(result)
    return 0


def cmd_resume(args: argparse.Namespace) -> int:
    from .engine.session import resume

    result = resume(args.run, budget=args.budget, workers=args.workers, llm=args.llm, executor=args.executor,
                    overrides=_overrides(args.set), progress=not args.quiet, log=None if args.quiet else _log,
                    islands=getattr(args, "islands", None))
    _print_result(result)
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    from .engine.locate import opened_run

    with opened_run(args.run) as (store, info):
        maximize = info.config.get("direction", "maximize") == "maximize"
        best = store.best_attempts(info.id, 1, maximize=maximize)
        if not best:
            raise UserError(f"run {info.name} has no valid program yet")
        a = best[0]
        if args.out:
            from pathlib import Path

            from .bundle import write_best

            for path in write_best(a.code or "", Path(args.out), info.config.get("program", "initial.py")):
                print(path)
            print(f"# score {a.score:.10g}  program {a.id}", file=sys.stderr)
        elif args.json:
            from .bundle import is_bundle, unpack

            print(json.dumps({"id": a.id, "score": a.score, "code": a.code,
                              **({"files": unpack(a.code)} if is_bundle(a.code) else {})}))
        else:
            from .bundle import is_bundle

            hint = "  (a folder program: --out DIR writes its files)" if is_bundle(a.code) else ""
            print(f"# score {a.score:.10g}  program {a.id}{hint}", file=sys.stderr)
            sys.stdout.write(a.code or "")
        return 0


def cmd_show(args: argparse.Namespace) -> int:
    from .engine.compute import describe
    from .engine.locate import opened_run
    from .mutate.edits import unified_diff

    with opened_run(args.run) as (store, info):
        a = store.get_attempt(args.program_id)
        if a is None or a.run_id != info.id:
            raise UserError(f"no attempt {args.program_id!r} in run {info.name}")
        parent = store.get_attempt(a.parent_id) if a.parent_id else None
        w = sys.stdout.write
        w(f"attempt {a.id}  status {a.status.value}  score {a.score}  private {a.private_score}\n")
        w(f"parent {a.parent_id}  generation {a.generation}  island {a.island}  mutation {a.mutation}  model {a.model}\n")
        w(f"tokens in/out {a.input_tokens}/{a.output_tokens}  evaluation {a.eval_seconds:.2f}s\n")
        compute = describe(a)
        if compute:
            w(compute + "\n")
        if a.reason:
            w(f"reason: {a.reason}\n")
        if a.feedback:
            w(f"feedback: {a.feedback}\n")
        if a.metrics:
            w(f"metrics: {json.dumps(a.metrics, default=str)}\n")
        if parent is not None and a.code is not None and parent.code is not None:
            w("\n--- diff against parent ---\n")
            from .bundle import file_diff, is_bundle

            # a folder program: one section per changed file (--- a/solver/x.py / +++ b/solver/x.py)
            w((file_diff(parent.code, a.code) if is_bundle(parent.code) or is_bundle(a.code)
               else unified_diff(parent.code, a.code)) or "(no change)\n")
        w("\n--- code ---\n")
        w((a.code or "(no code: the attempt failed before producing a program)") + "\n")
        if args.prompt and a.prompt:
            w("\n--- prompt ---\n" + a.prompt + "\n--- reply ---\n" + a.response + "\n")
        return 0


def cmd_export(args: argparse.Namespace) -> int:
    from .bundle import is_bundle, unpack
    from .engine.compute import COST_KEY
    from .engine.locate import opened_run

    with opened_run(args.run) as (store, info):
        for a in store.attempts(info.id):
            row = {
                "id": a.id, "parent_id": a.parent_id, "generation": a.generation, "island": a.island,
                "status": a.status.value, "score": a.score, "private_score": a.private_score, "reason": a.reason,
                "feedback": a.feedback, "mutation": a.mutation, "model": a.model, "code": a.code,
                "input_tokens": a.input_tokens, "output_tokens": a.output_tokens, "proposal_index": a.proposal_index,
                "metrics": a.metrics, "eval_seconds": a.eval_seconds, "created_at": a.created_at,
                "compute": a.metrics.get(COST_KEY),  # wall_s, cpu_s, peak_memory_mb, calls (measured)
            }
            if is_bundle(a.code):   # a folder program: every file, {path: text}, besides its bundle text
                row["files"] = unpack(a.code or "")
            if args.full:
                row.update(prompt=a.prompt, response=a.response, diff=a.diff, stdout=a.stdout, stderr=a.stderr)
            sys.stdout.write(json.dumps(row, default=str) + "\n")
        return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evoforge", description="Evolve programs with language models against trusted evaluators.")
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = p.add_subparsers(dest="command", required=True)

    def engine_flags(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--llm", help="model string, e.g. openai/gpt-4o-mini, ollama/qwen2.5-coder@http://127.0.0.1:11434/v1, embedded")
        sp.add_argument("--budget", type=int, help="model calls to spend (budget.llm_calls)")
        sp.add_argument("--workers", type=int, help="evaluations in flight at once")
        sp.add_argument("--executor", help="local (default), ray or ray://HOST:PORT")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="override any config key, e.g. --set search.islands=3")
        sp.add_argument("--quiet", action="store_true", help="no progress display")

    r = sub.add_parser("run", help="evolve the program of a task folder")
    r.add_argument("task", help="task folder (task.yaml, initial program, evaluate.py)")
    engine_flags(r)
    r.add_argument("--storage", help="storage URL (default sqlite:///RUN_DIR/run.db)")
    r.add_argument("--seed", type=int)
    r.add_argument("--run-dir", help="run folder (default runs/TASK-TIMESTAMP)")
    r.add_argument("--strategy", metavar="FILE", help="a strategy file with its numeric policy (its config_overrides(), "
                   "e.g. a promoted OUT/incumbent_sandboxed.py); --set wins over it")
    r.set_defaults(func=cmd_run)

    rs = sub.add_parser("resume", help="continue a run (after a crash, or with a larger --budget)")
    rs.add_argument("run", help="run folder, run.db or storage URL[#RUN_NAME]")
    engine_flags(rs)
    rs.set_defaults(func=cmd_resume)

    j = sub.add_parser("join", help="join a shared run (e.g. on PostgreSQL) as one more controller owning some islands")
    j.add_argument("run", help="storage URL#RUN_NAME (or run folder) of the shared run")
    j.add_argument("--islands", type=int, nargs="+", required=True, help="the islands this controller works on")
    engine_flags(j)
    j.set_defaults(func=cmd_resume)

    b = sub.add_parser("best", help="print the best program of a run")
    b.add_argument("run")
    b.add_argument("--json", action="store_true")
    b.add_argument("--out", metavar="DIR", help="write the program's files into DIR (a new or empty folder): "
                   "a folder program as its folder, a one-file program as its file")
    b.set_defaults(func=cmd_best)

    s = sub.add_parser("show", help="show one attempt: code, diff against its parent, score, feedback")
    s.add_argument("run")
    s.add_argument("program_id", help="attempt id (a unique prefix is enough)")
    s.add_argument("--prompt", action="store_true", help="also print the prompt and the model's reply")
    s.set_defaults(func=cmd_show)

    e = sub.add_parser("export", help="every attempt as JSON lines on stdout")
    e.add_argument("run")
    e.add_argument("--full", action="store_true", help="include prompts, replies, diffs and outputs")
    e.set_defaults(func=cmd_export)

    # commands beyond the core loop; they always ship, and each module imports only argparse-level
    # code until its command runs. "audit" is registered before the self-improve commands, which
    # then name their own promotion list "rsi-audit".
    from .llm import serve_cli
    from .research import cli as research_cli
    from .rsi import cli as rsi_cli
    from .safety import cli as safety_cli
    from .ui import cli as ui_cli

    for module in (safety_cli, serve_cli, ui_cli, rsi_cli, research_cli):
        module.add_commands(sub)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except UserError as exc:
        if args.debug:
            raise
        print(f"evoforge: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evoforge: interrupted; resume with 'evoforge resume RUN'", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
