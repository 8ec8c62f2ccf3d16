"""``evoforge audit RUN``: the quarantine list and safety alerts, for a human to review.

Quarantined programs scored far beyond the run's trend; they are never selected or reported as
best until a person releases them (``--release ID``) — or confirms the suspicion (``--reject ID``).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..errors import UserError
from ..program import AttemptStatus


def cmd_audit(args: argparse.Namespace) -> int:
    """Quarantine review for a run; promotion review for a self-improve output folder."""
    from ..rsi.cli import is_self_improve_folder, review_promotions, single_value

    if is_self_improve_folder(args.run):
        return review_promotions(Path(args.run), approve=args.approve, reject=single_value(args.reject),
                                 note=args.note or "", as_json=args.json)
    if args.approve:
        raise UserError("--approve reviews self-improve promotions; give a self-improve output folder")
    return _audit_run(args)


def _audit_run(args: argparse.Namespace) -> int:
    from ..engine import snapshot
    from ..engine.locate import opened_run

    writing = bool(args.release or args.reject)
    with opened_run(args.run, read_only=not writing) as (store, info):
        if writing:
            for attempt_id, release in [(i, True) for i in args.release or []] + [(i, False) for i in args.reject or []]:
                a = store.get_attempt(attempt_id)
                if a is None or a.run_id != info.id:
                    raise UserError(f"no attempt {attempt_id!r} in run {info.name}")
                if a.status is not AttemptStatus.QUARANTINED:
                    raise UserError(f"attempt {a.id} is not quarantined (status {a.status.value})")
                if release:
                    a.status = AttemptStatus.OK
                    a.score = a.metrics.get("quarantined_score", a.score)
                    a.reason = ""
                a.metrics["audit"] = {"decision": "released" if release else "rejected", "by": args.by}
                store.save_attempt(a)
                snapshot.invalidate(store, info.id)   # a released program is one a resume must replay
                store.add_event(info.id, "audit", {"id": a.id, "decision": a.metrics["audit"]["decision"], "by": args.by})
                print(f"{a.id}: {a.metrics['audit']['decision']}")
            return 0
        quarantined = store.attempts(info.id, status=AttemptStatus.QUARANTINED)
        alerts = store.events(info.id, "alert")
        if args.json:
            print(json.dumps({
                "quarantined": [{"id": a.id, "score": a.metrics.get("quarantined_score", a.score), "reason": a.reason,
                                 "audit": a.metrics.get("audit")} for a in quarantined],
                "alerts": [e["payload"] for e in alerts],
            }, default=str))
            return 0
        w = sys.stdout.write
        w(f"run {info.name}: {len(quarantined)} quarantined, {len(alerts)} alerts\n")
        for a in quarantined:
            decision = (a.metrics.get("audit") or {}).get("decision", "pending review")
            w(f"  {a.id}  score {a.metrics.get('quarantined_score', a.score)}  [{decision}]  {a.reason}\n")
            for finding in a.metrics.get("lint", []):
                w(f"      lint: {finding}\n")
        for e in alerts:
            p = e["payload"]
            w(f"  alert ({p.get('kind', '?')}): {p.get('message', p)}\n")
        if quarantined:
            w("Inspect one with 'evoforge show RUN ID'; release it with 'evoforge audit RUN --release ID'.\n")
        return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    a = sub.add_parser("audit", help="review quarantined programs and safety alerts of a run, "
                                     "or pending promotions of a self-improve folder")
    a.add_argument("run")
    a.add_argument("--release", action="append", metavar="ID", help="release a quarantined program (it becomes selectable)")
    a.add_argument("--reject", action="append", metavar="ID", help="confirm a quarantined program as suspect")
    a.add_argument("--approve", metavar="ID", help="approve a pending self-improve promotion")
    a.add_argument("--note", help="why (kept with a promotion review)")
    a.add_argument("--by", default="human", help="who decided (recorded with the decision)")
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_audit)
