"""Trusted evaluator for Core War: the candidate is a Redcode warrior, which is data.

The warrior's text is assembled by evoforge's own assembler (a hand-written parser, no eval)
and fought in evoforge's MARS inside this trusted process; nothing the candidate wrote runs
as code anywhere. Opponents are `opponents/*.red` (shipped) plus `history/*.red`, the
champions the Red Queen loop (`python -m evoforge.arenas.red_queen`) adds after each round.
The held-out warriors in `heldout/` give `private_score` (generality), never shown to the model.
"""
from __future__ import annotations

from pathlib import Path

from evoforge import Candidate, Result
from evoforge.arenas import AssemblyError, MarsConfig, assemble
from evoforge.arenas.league import load_warriors, play

HERE = Path(__file__).resolve().parent
CONFIG = MarsConfig()  # the '94 hill: core 8000, 80,000 cycles, 8,000 processes, length 100
ROUNDS = 4             # rounds per opponent (positions seeded by the opponent's name)
HELDOUT_ROUNDS = 2


def opponents() -> list:
    found = load_warriors(HERE / "opponents", CONFIG)
    found += [(f"champion {name}", w) for name, w in load_warriors(HERE / "history", CONFIG)]
    return found


def evaluate(candidate: Candidate, rounds: int = ROUNDS, heldout: bool = True) -> Result:
    try:
        warrior = assemble(candidate.code, coresize=CONFIG.coresize,
                           max_length=CONFIG.max_length, name="candidate")
    except AssemblyError as exc:
        return Result.invalid(f"the warrior does not assemble: {exc}")
    rivals = opponents()
    if not rivals:
        raise RuntimeError(f"no opponents in {HERE / 'opponents'} or {HERE / 'history'}")
    league = play(warrior, rivals, rounds=rounds, config=CONFIG)
    private = None
    if heldout and (HERE / "heldout").is_dir():
        private = play(warrior, load_warriors(HERE / "heldout", CONFIG), rounds=HELDOUT_ROUNDS,
                       config=CONFIG).score
    spawned, coverage = league.mean("spawned"), league.mean("coverage")
    feedback = (f"hill score {league.score:.3f} (3 points a win, 1 a tie, over "
                f"{len(rivals)} opponents x {rounds} rounds)\n{league.table()}\n"
                f"behaviour: {spawned:.0f} processes spawned and {coverage:.0f} cells "
                f"touched per round on average; {len(warrior)} instructions")
    return Result(
        score=league.score, feedback=feedback, private_score=private,
        metrics={"wins": league.total("wins"), "ties": league.total("ties"),
                 "losses": league.total("losses"), "spawned": spawned, "coverage": coverage,
                 "max_processes": league.mean("max_processes"), "length": len(warrior),
                 "opponents": len(rivals)},
    )
