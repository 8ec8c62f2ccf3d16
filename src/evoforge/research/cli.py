"""``evoforge research TOPIC_DIR --out DIR``: the command-line face of `research.loop.research`."""
from __future__ import annotations

import argparse
import sys
from typing import Any


def cmd_research(args: argparse.Namespace) -> int:
    from rich.console import Console

    from ..config import parse_override
    from .loop import research

    console = Console(stderr=True, highlight=False)
    summary = research(args.topic, args.out, llm=args.llm, ideas=args.ideas,
                       overrides=dict(parse_override(p) for p in args.set or []),
                       log=lambda text: console.print(text, markup=False))
    w = sys.stdout.write
    w(f"research: {len(summary.ideas)} idea(s), {summary.model_calls} research model calls, {summary.seconds}s\n")
    for i in summary.ideas:
        extra = f"  verdict: {i['verdict']}  meta-review: {i.get('meta_overall')}  report: {i['report']}" \
            if i["status"] == "studied" else ""
        if i.get("pdf"):
            extra += f"  pdf: {i['pdf']}"
        w(f"  {i['id']}  {i['status']:<10} {i['title']}{extra}\n")
    w(f"database: {summary.storage_url}  (evoforge ui {summary.out_dir}/research.db)\n")
    return 0


def add_commands(sub: Any) -> None:
    r = sub.add_parser("research", help="the research loop: ideas → staged experiments → reports → reviews")
    r.add_argument("topic", help="topic folder (description.md, template/ task folder, optional seed_ideas.json, "
                                 "research.yaml)")
    r.add_argument("--out", required=True, help="output folder; its research.db keeps the idea archive across runs")
    r.add_argument("--llm", help="model string (default: EVOFORGE_MODEL, else the embedded model)")
    r.add_argument("--ideas", type=int, help="new ideas to ask the model for (research key 'ideas')")
    r.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override a research.yaml key, e.g. --set draft.llm_calls=3")
    r.set_defaults(func=cmd_research)
