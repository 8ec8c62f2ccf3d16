"""The Red Queen loop (Digital Red Queen): warriors evolved against the growing history of
past champions.

Each round is an ordinary evoforge run of a Core War task folder (``examples/corewar``) whose
evaluator fights the candidate against ``opponents/`` plus ``history/``; this driver copies
the task, writes every champion so far into the copy's ``history/``, runs the evolution,
takes the round's best warrior as the next champion, and measures it against the held-out
warriors of ``heldout/`` (generality: does beating the history transfer?). All valid warriors
of every round enter a MAP-Elites archive over behaviour (processes spawned x memory
covered), so the diversity of strategies is visible, not only the champion line.

Everything is recorded in the output folder:

    warriors.jsonl   every warrior seen: shipped opponents, held-out ones, every valid program
    fights.jsonl     every fight the driver ran (champion vs history, champion vs held-out)
    champions/       round-NN.red, the champion of each round
    archive.json     the behaviour archive; summary.json per-round numbers
    round-NN/task    the task as evolved that round (with its history/); round-NN/run its run

Usage::

    python -m evoforge.arenas.red_queen examples/corewar --rounds 3 --budget 10
    python -m evoforge.arenas.red_queen examples/corewar --rounds 2 --llm openai/none@http://127.0.0.1:9/v1 \\
        --set 'mutation.weights={perturb: 1.0}' --set budget.llm_calls=null --set budget.proposals=10
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evoforge.arenas.assembler import AssemblyError, assemble
from evoforge.arenas.league import LeagueResult, load_warriors, play
from evoforge.arenas.map_elites import BehaviourArchive, Elite
from evoforge.arenas.mars import MarsConfig

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "runs", "history", "*.db")


@dataclass
class RoundSummary:
    round: int
    champion_id: str | None
    score: float | None          # the champion's score in its own run (vs opponents+history)
    generality: float | None     # hill score vs the held-out warriors
    vs_history: float | None     # hill score vs all previous champions (None in round 0)
    programs: int                # valid warriors evolved this round
    archive_cells: int
    run_dir: str
    seconds: float


@dataclass
class RedQueenResult:
    out_dir: Path
    rounds: list[RoundSummary] = field(default_factory=list)
    champions: list[str] = field(default_factory=list)  # Redcode text, one per round
    archive: BehaviourArchive = field(default_factory=BehaviourArchive)


class _Recorder:
    """Append-only JSON lines: nothing is lost when a long co-evolution is interrupted."""

    def __init__(self, out: Path) -> None:
        self.warriors = (out / "warriors.jsonl").open("a", encoding="utf-8")
        self.fights = (out / "fights.jsonl").open("a", encoding="utf-8")

    def warrior(self, **row: Any) -> None:
        code = row.get("code", "")
        row["hash"] = hashlib.sha256(code.encode("utf-8")).hexdigest()[:16]
        self.warriors.write(json.dumps(row) + "\n")
        self.warriors.flush()

    def league(self, round_: int, champion: str, kind: str, league: LeagueResult) -> None:
        for f in league.fights:
            self.fights.write(json.dumps({"round": round_, "warrior": champion, "kind": kind,
                                          **asdict(f), "time": time.time()}) + "\n")
        self.fights.flush()

    def close(self) -> None:
        self.warriors.close()
        self.fights.close()


def _programs(result: Any) -> list[Any]:
    """All valid programs of a finished run, read back from its storage."""
    from evoforge.program import AttemptStatus
    from evoforge.storage import open_storage

    store = open_storage(result.storage_url, read_only=True, create=False)
    try:
        return store.attempts(result.run_id, status=AttemptStatus.OK)
    finally:
        store.close()


def red_queen(task_dir: str | Path, *, rounds: int = 3, out_dir: str | Path | None = None,
              llm: str | list[str] | None = None, budget: int | None = None,
              overrides: dict[str, Any] | None = None, fight_rounds: int = 4, bins: int = 8,
              log: Callable[[str], None] | None = print, progress: bool = False,
              ) -> RedQueenResult:
    """Run `rounds` rounds of co-evolution on a Core War task folder; see the module doc."""
    import evoforge

    task = Path(task_dir).resolve()
    if not (task / "evaluate.py").is_file():
        raise FileNotFoundError(f"{task} is not a task folder (no evaluate.py)")
    if rounds < 1:
        raise ValueError("rounds must be at least 1")
    out = Path(out_dir or f"runs/red_queen-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "champions").mkdir(exist_ok=True)
    say = log or (lambda _text: None)
    config = MarsConfig()
    opponents = load_warriors(task / "opponents", config)
    heldout = load_warriors(task / "heldout", config) if (task / "heldout").is_dir() else []
    rec = _Recorder(out)
    result = RedQueenResult(out, archive=BehaviourArchive(bins, config.max_processes,
                                                          config.coresize))
    for kind, group in (("opponent", opponents), ("heldout", heldout)):
        for name, w in group:
            rec.warrior(round=-1, id=name, source=kind, code=w.source, score=None)
    history: list[tuple[str, Any]] = []  # (name, Warrior) of champions so far
    try:
        for r in range(rounds):
            started = time.time()
            round_dir = out / f"round-{r:02d}"
            round_task = round_dir / "task"
            if round_task.exists():
                shutil.rmtree(round_task)
            shutil.copytree(task, round_task, ignore=_IGNORE)
            (round_task / "history").mkdir()
            for k, code in enumerate(result.champions):
                (round_task / "history" / f"round-{k:02d}.red").write_text(code, encoding="utf-8")
            say(f"red queen: round {r + 1}/{rounds} against {len(opponents)} opponents + "
                f"{len(result.champions)} champions")
            run = evoforge.run(round_task, run_dir=round_dir / "run", llm=llm, budget=budget,
                               overrides=overrides, log=log, progress=progress)
            programs = _programs(run)
            for p in programs:
                metrics = p.metrics or {}
                rec.warrior(round=r, id=p.id, source="evolved", code=p.code or "",
                            score=p.score, private_score=p.private_score,
                            spawned=metrics.get("spawned"), coverage=metrics.get("coverage"))
                if p.score is not None and "spawned" in metrics and "coverage" in metrics:
                    result.archive.add(Elite(f"round-{r:02d}/{p.id}", float(p.score),
                                             float(metrics["spawned"]),
                                             float(metrics["coverage"]), p.code or "",
                                             {"round": r}))
            best = run.best
            if best is None or not best.code:
                say(f"red queen: round {r + 1} produced no valid warrior; stopping")
                break
            try:
                champion = assemble(best.code, name=f"round-{r:02d}")
            except AssemblyError as exc:  # cannot happen for a valid program; be loud if so
                raise RuntimeError(f"round {r} champion does not assemble: {exc}") from None
            name = f"round-{r:02d}"
            vs_history = None
            if history:
                league = play(champion, history, rounds=fight_rounds, config=config)
                rec.league(r, name, "history", league)
                vs_history = league.score
            generality = None
            if heldout:
                league = play(champion, heldout, rounds=fight_rounds, config=config)
                rec.league(r, name, "heldout", league)
                generality = league.score
            (out / "champions" / f"{name}.red").write_text(best.code, encoding="utf-8")
            result.champions.append(best.code)
            history.append((name, champion))
            summary = RoundSummary(r, best.id, best.score, generality, vs_history,
                                   len(programs), len(result.archive), str(run.run_dir),
                                   round(time.time() - started, 1))
            result.rounds.append(summary)
            result.archive.save(out / "archive.json")
            (out / "summary.json").write_text(json.dumps(
                [asdict(s) for s in result.rounds], indent=1), encoding="utf-8")
            say(f"red queen: round {r + 1} champion {best.id} score {best.score:.3f}, "
                f"generality {generality if generality is None else round(generality, 3)}, "
                f"vs history {vs_history if vs_history is None else round(vs_history, 3)}, "
                f"archive {len(result.archive)} cells")
    finally:
        rec.close()
    return result


def main(argv: list[str] | None = None) -> int:
    from evoforge.config import parse_override
    from evoforge.errors import EvoforgeError

    parser = argparse.ArgumentParser(prog="python -m evoforge.arenas.red_queen",
                                     description="Red Queen co-evolution of Core War warriors.")
    parser.add_argument("task_dir", help="a Core War task folder, e.g. examples/corewar")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--llm", default=None, help="model string, as for `evoforge run`")
    parser.add_argument("--budget", type=int, default=None, help="model calls per round")
    parser.add_argument("--out", default=None, help="output folder (default runs/red_queen-*)")
    parser.add_argument("--fight-rounds", type=int, default=4,
                        help="rounds per fight when measuring champions")
    parser.add_argument("--bins", type=int, default=8, help="archive cells per axis")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every round's run (repeatable)")
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        overrides = dict(parse_override(text) for text in args.set)
        res = red_queen(args.task_dir, rounds=args.rounds, out_dir=args.out, llm=args.llm,
                        budget=args.budget, overrides=overrides or None,
                        fight_rounds=args.fight_rounds, bins=args.bins,
                        log=None if args.quiet else print, progress=not args.quiet)
    except (EvoforgeError, FileNotFoundError, ValueError, AssemblyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"output: {res.out_dir}")
    for s in res.rounds:
        print(f"round {s.round + 1}: champion score {s.score:.3f}  generality "
              f"{'-' if s.generality is None else f'{s.generality:.3f}'}  vs history "
              f"{'-' if s.vs_history is None else f'{s.vs_history:.3f}'}  "
              f"({s.programs} valid warriors, {s.seconds}s)")
    print(res.archive.render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
