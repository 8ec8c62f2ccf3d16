"""Differential tests against pMARS 0.9.2, the reference MARS, when a usable binary exists.

Looked for in $PMARS, on PATH, in /usr/games and /opt/pmars. Debian's `pmars` package is
built with X11 and exits without a display ("Can't connect to X server"); a headless one is
built from its source package (needs a deb-src line) with the X flags dropped:
    apt-get source pmars && cd pmars-*/src && sed -i 's/-DXWINGRAPHX/-DSERVER/; s/^LIB = .*/LIB =/' Makefile && make
Tests are skipped when no binary can fight two imps in batch mode here.

What is compared: round outcomes (wins/losses/ties over several rounds with ``-F``, so the
positions follow pMARS's own generator), exact death cycles (by re-running with ``-c`` at the
cycle our MARS says a warrior died, and one later), and the assembler's output (pMARS's
listing) on sources using labels, EQU, expressions and every mode. Every test runs on both
engines (native and pure Python, see mars_native.py), except the full-length random and
long-lived batches, which run on the native one only: the Python engine is held to the native
one, observable by observable, in test_mars_native.py.
"""
from __future__ import annotations

import os
import random
import re
import shutil
import subprocess
import zlib
from functools import lru_cache
from pathlib import Path

import pytest

from evoforge.arenas import MarsConfig, Warrior, assemble, battle, mars_native
from evoforge.arenas.mars import DEFAULT_CONFIG
from evoforge.arenas.redcode import MODES, MODIFIERS, OPCODES

WARRIORS = Path(__file__).parent / "warriors"


@lru_cache(maxsize=1)
def pmars_binary() -> str | None:
    candidates = [os.environ.get("PMARS"), shutil.which("pmars"), "/usr/games/pmars",
                  "/opt/pmars/pmars"]
    imp = WARRIORS / "imp.red"
    for exe in candidates:
        if not exe or not os.access(exe, os.X_OK):
            continue
        try:
            out = subprocess.run([exe, "-b", "-r", "1", str(imp), str(imp)],
                                 capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.SubprocessError):
            continue
        if "Results:" in out.stdout:
            return exe
    return None


pytestmark = pytest.mark.skipif(pmars_binary() is None,
                                reason="no headless pmars binary (set PMARS=/path/to/pmars)")


ENGINES = ["native", "python"] if mars_native.available() else ["python"]


@pytest.fixture(autouse=True, params=ENGINES)
def engine(request, monkeypatch) -> str:
    """Every comparison runs on each engine the machine has."""
    monkeypatch.setenv("EVOFORGE_MARS", request.param)
    return request.param


def native_only(engine: str) -> None:
    if engine != "native":
        pytest.skip("full-length batch: the Python engine is checked against the native one "
                    "in test_mars_native.py")


def run_pmars(files: list[Path], rounds: int, position: int, config: MarsConfig = DEFAULT_CONFIG,
              ) -> tuple[int, int, int]:
    exe = pmars_binary()
    assert exe is not None
    args = [exe, "-b", "-r", str(rounds), "-F", str(position), "-s", str(config.coresize),
            "-c", str(config.max_cycles), "-p", str(config.max_processes),
            "-l", str(config.max_length), "-d", str(config.min_separation)]
    out = subprocess.run(args + [str(f) for f in files], capture_output=True, text=True,
                         timeout=300, check=False)
    match = re.search(r"Results: (\d+) (\d+) (\d+)", out.stdout)
    assert match, out.stdout + out.stderr
    return tuple(int(g) for g in match.groups())  # type: ignore[return-value]


def ours(warriors: list[Warrior], rounds: int, position: int,
         config: MarsConfig = DEFAULT_CONFIG) -> tuple[int, int, int]:
    result = battle(warriors, rounds=rounds, first_position=position, config=config)
    return result.wins(0), result.wins(1), result.ties(0)


def write(tmp_path: Path, warriors: list[Warrior], config: MarsConfig) -> list[Path]:
    files = []
    for k, w in enumerate(warriors):
        path = tmp_path / f"w{k}.red"
        path.write_text(w.listing(config.coresize))
        files.append(path)
    return files


CLASSICS = ["imp", "dwarf", "paper", "scanner", "stone"]
PAIRS = [(a, b) for i, a in enumerate(CLASSICS) for b in CLASSICS[i:]]


@pytest.mark.parametrize("left,right", PAIRS)
def test_classic_matchups_agree(tmp_path, left, right):
    ws = [assemble((WARRIORS / f"{n}.red").read_text()) for n in (left, right)]
    position = 100 + zlib.crc32(f"{left}/{right}".encode()) % 7800
    files = write(tmp_path, ws, MarsConfig())
    assert ours(ws, 3, position) == run_pmars(files, 3, position)


def random_warrior(rng: random.Random, n: int, span: int) -> str:
    ops = ["MOV"] * 6 + [op for op in OPCODES if op != "MOV"] + ["SPL", "DJN", "CMP"]
    lines = []
    for _ in range(n):
        mod = rng.choice(MODIFIERS + ("",))
        lines.append(f"{rng.choice(ops)}{'.' + mod if mod else ''} "
                     f"{rng.choice(MODES)}{rng.randint(-span, span)}, "
                     f"{rng.choice(MODES)}{rng.randint(-span, span)}")
    return "\n".join(lines) + f"\nEND {rng.randrange(n)}\n"


def test_random_warriors_on_a_small_core_agree(tmp_path):
    """Random code exercises every opcode/modifier/mode combination, including odd ones."""
    config = MarsConfig(coresize=80, max_cycles=500, max_processes=16, max_length=10,
                        min_separation=10)
    rng = random.Random(20240501)
    for case in range(150):
        srcs = [random_warrior(rng, rng.randint(2, 10), 15) for _ in range(2)]
        ws = [assemble(s, coresize=80, max_length=10) for s in srcs]
        files = write(tmp_path, ws, config)
        position = rng.randint(10, 70)
        expected = run_pmars(files, 4, position, config)
        assert ours(ws, 4, position, config) == expected, f"case {case}:\n" + "\n".join(srcs)


def mutant(rng: random.Random, w: Warrior) -> Warrior:
    ins = list(w.instructions)
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(ins))
        field = rng.randrange(6)
        i = ins[k]
        if field == 0:
            i = i._replace(opcode=rng.randrange(len(OPCODES)))
        elif field == 1:
            i = i._replace(modifier=rng.randrange(7))
        elif field == 2:
            i = i._replace(a_mode=rng.randrange(8))
        elif field == 3:
            i = i._replace(b_mode=rng.randrange(8))
        elif field == 4:
            i = i._replace(a=(i.a + rng.randint(-5, 5)) % 8000)
        else:
            i = i._replace(b=(i.b + rng.randint(-5, 5)) % 8000)
        ins[k] = i
    return Warrior(tuple(ins), w.start, w.name + "-mutant")


def test_death_cycles_agree_exactly(tmp_path):
    """Where our MARS says a warrior died at cycle d, pMARS with -c d must call the round a
    tie and with -c d+1 a win: this pins down every instruction executed before it."""
    classics = [assemble((WARRIORS / f"{n}.red").read_text()) for n in CLASSICS]
    rng = random.Random(7)
    checked = 0
    while checked < 40:
        ws = [mutant(rng, rng.choice(classics)) for _ in range(2)]
        position = rng.randint(100, 7900)
        first = battle(ws, first_position=position).rounds[0]
        if first.winner is None:
            continue
        died = first.stats[1 - first.winner].died_at
        assert died is not None
        files = write(tmp_path, ws, MarsConfig())
        for cycles in (died, died + 1):
            if cycles < 1:
                continue
            config = MarsConfig(max_cycles=cycles)
            assert ours(ws, 1, position, config) == run_pmars(files, 1, position, config), (
                f"cycles={cycles} position={position}\n{ws[0].listing()}\n{ws[1].listing()}")
            checked += 1


def test_random_warriors_on_the_standard_core_agree_over_full_rounds(tmp_path, engine):
    """Random code on the '94 hill settings: most pairs end early, some tie after 80,000."""
    native_only(engine)
    rng = random.Random(20241202)
    outcomes = set()
    for case in range(60):
        srcs = [random_warrior(rng, rng.randint(1, 20), 200) for _ in range(2)]
        ws = [assemble(s) for s in srcs]
        files = write(tmp_path, ws, MarsConfig())
        position = rng.randint(100, 7900)
        expected = run_pmars(files, 2, position)
        assert ours(ws, 2, position) == expected, f"case {case}:\n" + "\n".join(srcs)
        outcomes.add(expected)
    assert len(outcomes) > 2


LONG_LIVED = {
    "imp-spiral": "SPL 0\nMOV 0, 2667\nJMP -2",
    "bomber": "ADD #4, 3\nMOV 2, @2\nJMP -2\nDAT #0, #0",
    "silk-ish": "SPL 1\nSPL 1\nSPL 1\nSPL @0, }500\nMOV.I }-1, >-1\nJMP -2",
    "djn-stream": "SPL 0, #0\nMOV.I <-1, {-1\nDJN.F -1, <-3000",
    "spl-jmp": "SPL 0\nJMP -1",
    # P-space: counts rounds in slot 1 and suicides on every other one
    "pspace-alternator": "LDP.AB #1, 6\nADD.AB #1, 5\nSTP.B 4, #1\nMOD.AB #2, 3\n"
                         "JMZ.B 2, 2\nDAT 0, 0\nJMP 0\nDAT 0, 0",
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LONG_LIVED))
def test_long_lived_warriors_agree_over_full_rounds(tmp_path, engine, name):
    native_only(engine)
    mine = assemble(LONG_LIVED[name])
    for other in CLASSICS:
        ws = [mine, assemble((WARRIORS / f"{other}.red").read_text())]
        files = write(tmp_path, ws, MarsConfig())
        position = 100 + zlib.crc32(f"{name}/{other}".encode()) % 7800
        assert ours(ws, 4, position) == run_pmars(files, 4, position), other


def test_long_lived_mutants_agree_over_full_rounds(tmp_path, engine):
    native_only(engine)
    rng = random.Random(41)
    bases = [assemble(src) for src in LONG_LIVED.values()]
    classics = [assemble((WARRIORS / f"{n}.red").read_text()) for n in CLASSICS]
    full = 0
    for case in range(40):
        ws = [mutant(rng, rng.choice(bases)), mutant(rng, rng.choice(bases + classics))]
        position = rng.randint(100, 7900)
        result = battle(ws, rounds=2, first_position=position)
        full += sum(1 for r in result.rounds if r.cycles == 80_000)
        files = write(tmp_path, ws, MarsConfig())
        assert (result.wins(0), result.wins(1), result.ties(0)) == run_pmars(
            files, 2, position), f"case {case}\n{ws[0].listing()}\n{ws[1].listing()}"
    assert full >= 10  # enough of them lived the whole round


def pmars_listing(path: Path) -> list[str]:
    exe = pmars_binary()
    out = subprocess.run([exe, "-r", "0", str(path)], capture_output=True, text=True,
                         timeout=120, check=False).stdout
    rows = []
    for line in out.splitlines()[out.splitlines().index("       ORG      START") + 1:]:
        m = re.match(r"^\S*\s+([A-Z]{3}\.[A-Z]+)\s+(\S)\s*(-?\d+),\s*(\S)\s*(-?\d+)", line)
        if m:
            op, am, a, bm, b = m.groups()
            rows.append(f"{op} {am}{a}, {bm}{b}")
    return rows


@pytest.mark.parametrize("name", CLASSICS + ["expressions"])
def test_assembler_matches_pmars_listing(tmp_path, name):
    if name == "expressions":
        source = """;redcode-94
;name Expressions
step    EQU 7*3
half    EQU (step+1)/2
        ORG go
top     DAT.F #-7/2, #-7%3
go      MOV.AB #step, top+1
        ADD.F  #(half*2)-1, @top
        SPL    go + 2
        JMP    -(step % 5)
        dat    10
        spl    #-1
        jmz.x  top, }top - -3
        djn    {1, >-1
        nop    *half
        seq    #CORESIZE-1, $MAXLENGTH
        ldp.ab #0, 5
        stp    2*(3+4), -8/3
last    sne.i  last, top
        END
"""
        path = tmp_path / "expr.red"
        path.write_text(source)
    else:
        path = WARRIORS / f"{name}.red"
    mine = [ins.signed(8000) for ins in assemble(path.read_text()).instructions]
    assert [m.replace(" ", "") for m in mine] == [p.replace(" ", "")
                                                  for p in pmars_listing(path)]
