"""CLI commands of the self-improvement modes: ``self-improve``, ``audit`` and ``dgm``.

Registered by `evoforge.cli`. User errors raise
`evoforge.errors.UserError` (exit code 2, one message)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import UserError


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _overrides(pairs: list[str] | None) -> dict[str, Any]:
    from ..config import parse_override

    return dict(parse_override(p) for p in pairs or [])


def cmd_self_improve(args: argparse.Namespace) -> int:
    if getattr(args, "target", None):
        return _cmd_target(args)
    if not args.tasks or not args.holdout:
        raise UserError("self-improve needs --tasks and --holdout (or --target evoforge.<module>)")
    from .outer import SelfImproveOptions, self_improve

    opts = SelfImproveOptions(
        tasks=args.tasks, holdout=args.holdout, out=args.out, llm=args.llm, inner_budget=args.inner_budget,
        seeds=args.seeds, holdout_seeds=args.holdout_seeds, outer_budget=args.budget,
        outer_proposals=args.proposals, alpha=args.alpha, margin=args.margin, approval=args.approval,
        seed=args.seed, initial=args.initial, isolation=args.isolation, outer_overrides=_overrides(args.set),
        inner_proposals=args.inner_proposals, fitness=args.fitness,
        race_alpha=None if args.race_alpha == 0 else args.race_alpha, race_min=args.race_min,
        outer_search=args.outer_search)
    report = self_improve(opts, log=None if args.quiet else _log, progress=not args.quiet)
    p = report.promotion
    print(f"outer run: {report.run_dir} ({report.stop_reason})")
    print(f"incumbent train score {report.incumbent_train}; best candidate train score {report.candidate_train}")
    for line in p["candidate"].get("changes") or []:
        print(f"  candidate changes {line}")
    if p.get("holdout"):
        from .promotion import per_task

        for task, t in per_task(p["holdout"]).items():
            print(f"  held-out {task}: candidate {t['candidate']:+.4g} vs incumbent {t['incumbent']:+.4g} "
                  f"(gain {t['gain']:+.4g}, {t['wins']:g}/{t['n']:g} better)")
    print(f"promotion {p['id']}: {p['status']} — {p['reason']}")
    if p["status"] == "pending":
        print(f"approve with: evoforge audit {report.out_dir} --approve {p['id']}")
    return 0


def _cmd_target(args: argparse.Namespace) -> int:
    from .target import TargetOptions, run_target

    opts = TargetOptions(module=args.target, out=args.out, llm=args.llm, budget=args.budget, proposals=args.proposals,
                         seed=args.seed, isolation=args.isolation, overrides=_overrides(args.set))
    rep = run_target(opts, log=None if args.quiet else _log, progress=not args.quiet)
    print(f"target run: {rep.run_dir} ({rep.stop_reason})")
    print(f"baseline score {rep.baseline}; best score {rep.best} ({rep.best_id})")
    print(f"patch: {rep.patch}{'' if rep.changed else ' (empty: no improvement)'}")
    print(f"report: {rep.report}")
    print("the installed package was not changed; review the report and apply the patch yourself")
    return 0


def review_promotions(out: Path, *, approve: str | None, reject: str | None, note: str, as_json: bool) -> int:
    """List a self-improve folder's promotions, or record one decision (also `evoforge audit FOLDER`)."""
    from .promotion import PromotionLog, review

    if not out.is_dir():
        raise UserError(f"{out} is not a self-improve output folder")
    if approve and reject:
        raise UserError("give --approve or --reject, not both")
    if approve or reject:
        p = review(out, approve or reject or "", approve=bool(approve), note=note)
        print(f"promotion {p.id}: {p.status}")
        return 0
    items = PromotionLog(out).load()
    if as_json:
        print(json.dumps([p.to_dict() for p in items], indent=2, default=str))
        return 0
    if not items:
        print(f"no promotion decisions recorded in {out}")
    for p in items:
        mark = "*" if p.status == "pending" else " "
        test = p.test or {}
        numbers = (f"n={test.get('n')} mean diff {test.get('mean_diff', 0):+.4g} p={test.get('p_value', 1):.4g} "
                   f"α={test.get('alpha')}") if test else "no held-out test"
        print(f"{mark} {p.id}  {p.status:<17} {numbers}  {p.reason}")
    pending = [p for p in items if p.status == "pending"]
    if pending:
        print(f"{len(pending)} pending: evoforge audit {out} --approve ID | --reject ID")
    return 0


def single_value(value: Any) -> str | None:
    """--reject may be a list where another module's 'audit' parser declared it with append."""
    if isinstance(value, list):
        if len(value) > 1:
            raise UserError("review one promotion at a time")
        return value[0] if value else None
    return value


def cmd_audit(args: argparse.Namespace) -> int:
    return review_promotions(Path(args.out), approve=args.approve, reject=args.reject, note=args.note or "", as_json=args.json)


def is_self_improve_folder(path: str | Path) -> bool:
    from .promotion import PROMOTIONS_FILE, REPORT_FILE

    p = Path(path)
    return p.is_dir() and ((p / PROMOTIONS_FILE).is_file() or (p / REPORT_FILE).is_file())


def cmd_dgm(args: argparse.Namespace) -> int:
    from .dgm.loop import DGMOptions, run_dgm

    opts = DGMOptions(bench=args.bench, out=args.out, llm=args.llm, iterations=args.iterations, seed=args.seed,
                      agent_calls=args.agent_calls, self_mod_calls=args.self_mod_calls, threshold=args.threshold,
                      isolation=args.isolation, agent_timeout=args.agent_timeout)
    report = run_dgm(opts, log=None if args.quiet else _log)
    print(f"archive: {report['archive_size']} working agent(s) of {report['agents']} ({report['failed']} failed); "
          f"best {report['best_id']} score {report['best_score']:.3f}")
    print(f"output: {report['out_dir']}")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    si = sub.add_parser("self-improve", help="evolve the search strategy on training tasks; promote only on held-out evidence")
    si.add_argument("--tasks", nargs="+", metavar="TASK", help="training task folders")
    si.add_argument("--holdout", nargs="+", metavar="TASK", help="held-out task folders (promotion test)")
    si.add_argument("--target", metavar="MODULE",
                    help="improve one of evoforge's own modules (e.g. evoforge.mutate.match) in a sandboxed copy; "
                         "writes a patch and a report, never changes the installed package")
    si.add_argument("--llm", help="model string for the outer and the inner runs")
    si.add_argument("--inner-budget", type=int, default=3,
                    help="model calls per inner run (default 3; 0: no model, zero-cost operators only)")
    si.add_argument("--inner-proposals", type=int, help="proposals per inner run (default 4 × --inner-budget)")
    si.add_argument("--fitness", choices=("auc", "final"), default="auc",
                    help="a run's fitness: area under the best-so-far curve (default) or the final improvement")
    si.add_argument("--race-alpha", type=float, default=0.1,
                    help="drop a candidate once the incumbent is better at this one-sided p (default 0.1; 0: no racing)")
    si.add_argument("--race-min", type=int, default=0, help="training runs before the first racing test (default: the fewest that can reach --race-alpha)")
    si.add_argument("--seeds", type=int, default=1, help="seeds per training task (default 1)")
    si.add_argument("--holdout-seeds", type=int, default=5, help="seeds per held-out task (default 5)")
    si.add_argument("--budget", type=int, default=10,
                    help="model calls of the outer run (default 10; 0: no model, perturb the strategy's numbers)")
    si.add_argument("--proposals", type=int, help="proposals of the outer run (default 2 × --budget)")
    si.add_argument("--outer-search", choices=("screen", "perturb"), default="screen",
                    help="--budget 0: screen every knob of the strategy one level up and down first, then combine, "
                         "extend and perturb the best (default); or perturb only")
    si.add_argument("--alpha", type=float, default=0.05, help="significance level of the promotion test (default 0.05)")
    si.add_argument("--margin", type=float, default=0.0, help="required mean held-out gain (normalised) (default 0)")
    si.add_argument("--approval", choices=("auto", "human"), default="auto", help="human: promotions wait for evoforge audit")
    si.add_argument("--initial", help="strategy file to start from (default: evoforge's default strategy)")
    si.add_argument("--isolation", default="auto", help="sandbox level for strategies: auto, bwrap, landlock, unshare, none")
    si.add_argument("--seed", type=int, default=0)
    si.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key of the outer run")
    si.add_argument("--out", required=True, help="output folder (created)")
    si.add_argument("--quiet", action="store_true")
    si.set_defaults(func=cmd_self_improve)

    au = sub.add_parser("audit" if "audit" not in sub.choices else "rsi-audit",
                        help="list self-improve promotions; approve or reject pending ones")
    au.add_argument("out", help="a self-improve output folder")
    au.add_argument("--approve", metavar="ID")
    au.add_argument("--reject", metavar="ID")
    au.add_argument("--note", help="why (kept with the decision)")
    au.add_argument("--json", action="store_true")
    au.set_defaults(func=cmd_audit)

    dg = sub.add_parser("dgm", help="Darwin Gödel Machine: self-modifying coding agents on a benchmark")
    dg.add_argument("--bench", default="coding_bench", help="benchmark folder or the name of a shipped one")
    dg.add_argument("--llm", help="model string")
    dg.add_argument("--iterations", type=int, default=4, help="children to create (default 4)")
    dg.add_argument("--agent-calls", type=int, default=4, help="model calls per task attempt (default 4)")
    dg.add_argument("--self-mod-calls", type=int, default=6, help="model calls per self-modification (default 6)")
    dg.add_argument("--threshold", type=float, help="stage-1 solve rate needed for the full evaluation")
    dg.add_argument("--agent-timeout", type=float, default=300.0, help="seconds per agent process (default 300)")
    dg.add_argument("--isolation", default="auto", help="sandbox level for agents: auto, bwrap, landlock, unshare, none")
    dg.add_argument("--seed", type=int, default=0)
    dg.add_argument("--out", required=True, help="output folder")
    dg.add_argument("--quiet", action="store_true")
    dg.set_defaults(func=cmd_dgm)
