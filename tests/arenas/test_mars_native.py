"""The native MARS engine against the pure-Python one: every observable, on every kind of input.

Both engines run the same rounds (chosen with ``EVOFORGE_MARS``) and must agree on the
result (survivors, cycles, death cycles, spawned / max processes / coverage, per-cycle
samples, instructions executed), on the whole core afterwards, on every process queue, and
on P-space, also when a round is run in random slices. Inputs: the test warriors, hundreds
of seeded random warriors (any opcode, modifier, mode and field, some outside the '94
ranges), long-lived warriors on full 80,000-cycle rounds, several warriors, P-space and odd
configurations. The fallback paths (no compiler, ``EVOFORGE_MARS=python`` and ``=native``)
run in fresh interpreters, since the library is loaded once per process.
"""
from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from evoforge.arenas import (
    Instruction,
    MarsConfig,
    Simulation,
    Warrior,
    assemble,
    battle,
    mars_native,
)
from evoforge.arenas.redcode import OPCODES

WARRIORS = Path(__file__).parent / "warriors"
CLASSICS = sorted(p.stem for p in WARRIORS.glob("*.red"))
SRC = Path(__file__).resolve().parents[2] / "src"

needs_native = pytest.mark.skipif(not mars_native.available(),
                                  reason="no C compiler: the native MARS cannot be built here")


def load(name: str) -> Warrior:
    return assemble((WARRIORS / f"{name}.red").read_text())


def observe(sim: Simulation) -> dict:
    m = sim.config.coresize
    return {"result": sim.result(), "finished": sim.finished, "cycle": sim.cycle,
            "core": [sim.instruction(a) for a in range(m)],
            "queues": [sim.processes(w) for w in range(len(sim.warriors))],
            "coverage": [sim.coverage(w) for w in range(len(sim.warriors))],
            "pspaces": [list(p) for p in sim.pspaces], "last": list(sim.last_results)}


def play(monkeypatch, engine: str, warriors, positions, *, config: MarsConfig,
         starter: int = 0, pspaces=None, last=None, stats_every: int = 0,
         slices: list[int | None] | None = None) -> list[dict]:
    """One round on `engine`, observed after each slice of `run` (default: one full run)."""
    monkeypatch.setenv("EVOFORGE_MARS", engine)
    sim = Simulation(warriors, positions, config=config, starter=starter,
                     pspaces=[list(p) for p in pspaces] if pspaces is not None else None,
                     last_results=list(last) if last is not None else None,
                     stats_every=stats_every)
    assert sim.engine == engine
    seen = []
    for budget in slices or [None]:
        done = sim.run(budget)
        assert done == sim.finished
        seen.append(observe(sim))
    return seen


def agree(monkeypatch, *args, **kwargs) -> list[dict]:
    native = play(monkeypatch, "native", *args, **kwargs)
    python = play(monkeypatch, "python", *args, **kwargs)
    for k, (n, p) in enumerate(zip(native, python)):
        for key in p:
            assert n[key] == p[key], f"slice {k}: {key} differs"
    return native


def random_instruction(rng: random.Random, m: int, wild: bool = False) -> Instruction:
    """Any opcode/modifier/mode; `wild` also draws values outside the '94 tables and fields
    outside the core (the simulator reduces them)."""
    if wild and rng.random() < 0.1:
        return Instruction(rng.randint(-3, 40), rng.randint(0, 7), rng.randint(0, 7),
                           rng.randint(-10**6, 10**6), rng.randint(0, 7), rng.randint(-5, 10**9))
    ops = list(range(len(OPCODES))) + [1] * 6 + [11, 10, 13, 7]
    span = min(m, 40)
    return Instruction(rng.choice(ops), rng.randrange(7), rng.randrange(8),
                       rng.randint(-span, span) % m, rng.randrange(8), rng.randint(-span, span) % m)


def random_warrior(rng: random.Random, m: int, length: int, wild: bool = False) -> Warrior:
    ins = tuple(random_instruction(rng, m, wild) for _ in range(length))
    return Warrior(ins, rng.randrange(length), "random")


# -- the test warriors, full length ----------------------------------------------------------
@needs_native
@pytest.mark.slow
@pytest.mark.parametrize("left", CLASSICS)
def test_every_test_warrior_agrees_against_every_other(monkeypatch, left):
    config = MarsConfig()
    for right in CLASSICS:
        ws = [load(left), load(right)]
        position = 100 + (len(left) * 997 + len(right) * 131) % 7800
        agree(monkeypatch, ws, [0, position], config=config, starter=len(right) % 2)


@needs_native
def test_battles_agree_round_by_round(monkeypatch):
    ws = [load("paper"), load("stone")]
    results = {}
    for engine in ("native", "python"):
        monkeypatch.setenv("EVOFORGE_MARS", engine)
        results[engine] = battle(ws, rounds=4, first_position=1234).rounds
    assert results["native"] == results["python"]


# -- random warriors ---------------------------------------------------------------------------
@needs_native
def test_hundreds_of_random_warriors_agree_on_small_cores(monkeypatch):
    rng = random.Random(20241202)
    for case in range(300):
        m = rng.choice([2, 3, 7, 16, 80, 97, 128, 300])
        n = rng.choice([1, 2, 2, 2, 3, 4])
        config = MarsConfig(coresize=m, max_cycles=rng.choice([-5, 0, 1, 5, 100, 400]),
                            max_processes=rng.choice([-2**70, -1, 0, 1, 2, 8, 64, 2**70]),
                            max_length=12,
                            pspace_size=rng.choice([None, 1, 3, 7]))
        ws = [random_warrior(rng, m, rng.randint(1, 12), wild=case % 3 == 0) for _ in range(n)]
        positions = [rng.randint(-m, 2 * m) for _ in range(n)]
        slices = None if case % 2 else [rng.randint(-2, 40) for _ in range(rng.randint(1, 6))]
        agree(monkeypatch, ws, positions, config=config, starter=rng.randrange(n),
              stats_every=rng.choice([0, 0, 1, 3, -2]), slices=slices)


@needs_native
def test_random_warriors_on_the_standard_core(monkeypatch):
    rng = random.Random(99)
    config = MarsConfig(max_cycles=2000)
    for _ in range(40):
        ws = [random_warrior(rng, 8000, rng.randint(1, 30)) for _ in range(2)]
        agree(monkeypatch, ws, [0, rng.randint(100, 7900)], config=config,
              starter=rng.randrange(2))


# -- long-lived warriors: full 80,000-cycle rounds ---------------------------------------------
LONG_LIVED = {
    "imp-spiral": "SPL 0\nMOV 0, 2667\nJMP -2",
    "bomber": "ADD #4, 3\nMOV 2, @2\nJMP -2\nDAT #0, #0",
    "silk-ish": "SPL 1\nSPL 1\nSPL 1\nSPL @0, }500\nMOV.I }-1, >-1\nJMP -2",
    "pspace-counter": "LDP.AB #1, 4\nADD.AB #1, 3\nSTP.B 2, #1\nJMP -3\nDAT 0, 0",
    "djn-stream": "SPL 0, #0\nMOV.I <-1, {-1\nDJN.F -1, <-3000",
    "spl-jmp": "SPL 0\nJMP -1",
}


@needs_native
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(LONG_LIVED))
def test_long_lived_warriors_agree_over_full_rounds(monkeypatch, name):
    config = MarsConfig()
    opponent = load("imp")
    [seen] = agree(monkeypatch, [assemble(LONG_LIVED[name]), opponent], [0, 4000],
                   config=config)
    assert seen["result"].executed > 100_000  # a long round, not a quick kill


@needs_native
def test_random_long_lived_mutants_agree_over_full_rounds(monkeypatch):
    rng = random.Random(5)
    config = MarsConfig()
    found = 0
    while found < 3:
        base = assemble(LONG_LIVED[rng.choice(sorted(LONG_LIVED))])
        ins = list(base.instructions)
        k = rng.randrange(len(ins))
        ins[k] = ins[k]._replace(b=(ins[k].b + rng.randint(-50, 50)) % 8000)
        w = Warrior(tuple(ins), base.start)
        monkeypatch.setenv("EVOFORGE_MARS", "native")
        quick = Simulation([w, w], [0, 3000], config=config)
        quick.run()
        if quick.result().executed < 150_000:
            continue  # only mutants that live the whole round
        agree(monkeypatch, [w, w], [0, 3000], config=config)
        found += 1


# -- several warriors, P-space, statistics, odd configurations -------------------------------
@needs_native
def test_four_warrior_battles_agree(monkeypatch):
    ws = [load(n) for n in ("dwarf", "paper", "scanner", "stone")]
    config = MarsConfig(max_cycles=20_000)
    results = {}
    for engine in ("native", "python"):
        monkeypatch.setenv("EVOFORGE_MARS", engine)
        results[engine] = battle(ws, rounds=3, seed=11, config=config, stats_every=500).rounds
    assert results["native"] == results["python"]
    assert any(len(r.survivors) < 4 for r in results["native"])  # someone died


@needs_native
def test_pspace_values_of_any_size_round_trip(monkeypatch):
    rng = random.Random(3)
    config = MarsConfig(coresize=64, max_cycles=300, max_processes=8, pspace_size=5)
    src = "LDP.A #2, 1\nSTP.AB #7, #3\nLDP.B #3, -2\nSTP.B 1, 1\nSPL -4\nJMP -5"
    w = assemble(src, coresize=64)
    for _ in range(20):
        pspaces = [[rng.randint(-2**63, 2**63 - 1) for _ in range(5)] for _ in range(2)]
        last = [rng.randint(-10**12, 10**12) for _ in range(2)]
        [seen] = agree(monkeypatch, [w, w], [0, 32], config=config, pspaces=pspaces, last=last)
        assert seen["pspaces"] != pspaces  # STP wrote something


@needs_native
def test_per_cycle_samples_agree_across_many_buffer_refills(monkeypatch):
    config = MarsConfig(coresize=800, max_cycles=20_000, max_processes=50)
    ws = [assemble("SPL 0\nMOV 0, 1"), load("dwarf")]
    [seen] = agree(monkeypatch, ws, [0, 400], config=config, stats_every=1)
    assert len(seen["result"].samples) > 3 * mars_native._SAMPLE_ROWS


@needs_native
def test_slices_of_one_instruction_agree(monkeypatch):
    config = MarsConfig(coresize=50, max_cycles=40, max_processes=4)
    rng = random.Random(8)
    ws = [random_warrior(rng, 50, 6) for _ in range(3)]
    agree(monkeypatch, ws, [0, 17, 33], config=config, stats_every=2, slices=[1] * 130)


@needs_native
def test_set_instruction_between_slices(monkeypatch):
    config = MarsConfig(coresize=64, max_cycles=100)
    for engine in ("native", "python"):
        monkeypatch.setenv("EVOFORGE_MARS", engine)
        sim = Simulation([assemble("JMP 0")], [0], config=config)
        sim.run(3)
        sim.set_instruction(64 + 0, Instruction(0, 4, 1, -1, 1, 130))  # DAT.F $-1, $130
        assert str(sim.instruction(0)) == "DAT.F $63, $2"
        sim.run()
        assert sim.result().stats[0].died_at == 4 and sim.finished  # the 4th instruction died


@needs_native
def test_pspace_reached_only_through_set_instruction(monkeypatch):
    """A round whose warriors hold no LDP/STP skips packing P-space; an STP written into
    the core later must still reach the caller's lists."""
    config = MarsConfig(coresize=64, max_cycles=50, pspace_size=8)
    seen = {}
    for engine in ("native", "python"):
        monkeypatch.setenv("EVOFORGE_MARS", engine)
        pspaces, last = [[0] * 8], [5]
        sim = Simulation([assemble("NOP 0\nJMP -1")], [0], config=config, pspaces=pspaces,
                         last_results=last)
        sim.run(4)
        sim.set_instruction(1, Instruction(17, 2, 0, 9, 0, 3))  # STP.AB #9, #3
        sim.set_instruction(2, Instruction(17, 2, 0, 7, 0, 0))  # STP.AB #7, #0: the result
        sim.set_instruction(3, Instruction(0, 4, 1, 0, 1, 0))
        sim.run()
        seen[engine] = (pspaces, last, sim.result())
    assert seen["native"] == seen["python"]
    assert seen["native"][0] == [[0, 0, 0, 9, 0, 0, 0, 0]] and seen["native"][1] == [7]


# -- what the native engine declines, and the fallback paths ---------------------------------
@needs_native
def test_rounds_the_c_types_cannot_hold_run_in_python(monkeypatch):
    monkeypatch.setenv("EVOFORGE_MARS", "auto")
    w, ps = assemble("JMP 0"), assemble("STP #1, #1\nJMP 0")
    shared = [0] * 500
    assert Simulation([ps, w], [0, 4000], pspaces=[shared, shared]).engine == "python"
    assert Simulation([ps], [0], pspaces=[[2**70] * 500]).engine == "python"
    assert Simulation([ps], [0], pspaces=[[0.0] * 500]).engine == "python"
    # warriors without LDP/STP never read P-space, whatever it holds
    assert Simulation([w, w], [0, 4000], pspaces=[shared, shared]).engine == "native"
    assert Simulation([w], [0], config=MarsConfig(coresize=1, min_separation=0,
                                                   max_length=1)).engine == "python"
    huge = Warrior((Instruction(2**30, 0, 0, 0, 0, 0),))
    assert Simulation([huge], [0]).engine == "python"
    assert Simulation([w], [0]).engine == "native"


@needs_native
def test_corrupted_state_is_refused_not_followed(monkeypatch):
    """The C loop checks the state it is handed: out-of-core fields or queued addresses, bad
    queue heads, lengths and ring entries make it refuse (RuntimeError), never read or write
    outside its arrays. Run in a child so that a crash would be a failure, not a lost run."""
    script = r"""
import ctypes, random
from evoforge.arenas import MarsConfig, Simulation, assemble
rng = random.Random(1)
refused = 0
for case in range(400):
    sim = Simulation([assemble("SPL 0\nMOV <2, {3\nJMP -2"), assemble("DJN 0, #5")], [0, 40],
                     config=MarsConfig(coresize=80, max_cycles=200, max_processes=16))
    assert sim.engine == "native"
    r = sim._engine
    sim.run(rng.randint(0, 50))
    target = rng.choice(["af", "bf", "qbuf", "qhead", "qlen", "ring", "turn", "nring",
                         "nsamples"])
    value = rng.choice([-1, -2**31, 80, 81, 2**31 - 1, 16, 17, 2, 5, 2**40])
    if target in ("turn", "nring", "nsamples"):
        setattr(r._s, target, value)
    else:
        arr = getattr(r, "_" + target)
        try:
            arr[rng.randrange(len(arr))] = value
        except (ValueError, OverflowError):  # the value does not fit the array's type
            continue
    try:
        sim.run()
    except RuntimeError:
        refused += 1
print("refused", refused)
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(SRC), "EVOFORGE_MARS": "native"},
                         timeout=600, check=False)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.split()[-1]) > 40  # the rest drew values that are valid


def _libasan() -> str | None:
    try:
        out = subprocess.run(["gcc", "-print-file-name=libasan.so"], capture_output=True,
                             text=True, timeout=60, check=False).stdout.strip()
    except OSError:
        return None
    return out if os.path.isabs(out) and os.path.exists(out) else None


FUZZ = r"""
import random, sys
sys.path.insert(0, sys.argv[1])
from evoforge.arenas import Instruction, MarsConfig, Simulation
from test_mars_native import random_warrior
rng = random.Random(17)
for case in range(600):
    m = rng.choice([2, 3, 5, 8, 31, 64, 200, 1000])
    n = rng.randint(1, 5)
    config = MarsConfig(coresize=m, max_cycles=rng.choice([1, 10, 300, 2000]),
                        max_processes=rng.choice([1, 3, 50, 5000]), max_length=20,
                        pspace_size=rng.choice([None, 1, 2, 9]))
    ws = [random_warrior(rng, m, rng.randint(1, 20), wild=True) for _ in range(n)]
    sim = Simulation(ws, [rng.randint(-5000, 5000) for _ in range(n)], config=config,
                     starter=rng.randint(-3, 7), stats_every=rng.choice([0, 1, 7]))
    assert sim.engine == "native"
    while not sim.run(rng.choice([None, 1, 17, 500])):
        if rng.random() < 0.2:
            sim.set_instruction(rng.randint(-10**6, 10**6), Instruction(
                rng.randint(0, 40), rng.randint(0, 7), rng.randint(0, 7),
                rng.randint(-10**9, 10**9), rng.randint(0, 7), rng.randint(-10**9, 10**9)))
    sim.result()
print("fuzzed", case + 1)
"""


@needs_native
@pytest.mark.slow
@pytest.mark.skipif(_libasan() is None, reason="needs gcc with AddressSanitizer")
def test_address_sanitizer_finds_nothing_on_wild_input(tmp_path):
    """The C loop built with -fsanitize=address runs hundreds of rounds of random warriors
    (fields and opcodes outside the tables too), configs, slices and set_instruction calls:
    any read or write outside its arrays aborts the child."""
    out = subprocess.run(
        [sys.executable, "-c", FUZZ, str(Path(__file__).parent)], capture_output=True,
        text=True, timeout=900, check=False,
        env={**os.environ, "PYTHONPATH": str(SRC), "LD_PRELOAD": _libasan() or "",
             "ASAN_OPTIONS": "detect_leaks=0", "EVOFORGE_MARS": "native",
             "CC": "gcc -fsanitize=address -fno-omit-frame-pointer -g",
             "EVOFORGE_MARS_CACHE": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split() == ["fuzzed", "600"]


def child(env: dict[str, str], code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(SRC), **env}, timeout=600,
                          check=False)


ROUND = ("import logging; logging.basicConfig()\n"
         "from evoforge.arenas import MarsConfig, Simulation, assemble\n"
         "s = Simulation([assemble('MOV 0, 1')], [0], config=MarsConfig(max_cycles=500))\n"
         "s.run(); print(s.engine, s.result().stats[0].coverage)\n")


def test_without_a_compiler_the_python_engine_runs_with_one_note(tmp_path):
    out = child({"CC": str(tmp_path / "no-such-cc"), "EVOFORGE_MARS_CACHE": str(tmp_path),
                 "EVOFORGE_MARS": "auto"}, ROUND + "s2 = Simulation([assemble('JMP 0')], [0])\n"
                                                    "print(s2.engine)\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["python", "501", "python"]
    assert out.stderr.count("native MARS unavailable") == 1, out.stderr


def test_a_failing_compiler_falls_back_too(tmp_path):
    out = child({"CC": "false", "EVOFORGE_MARS_CACHE": str(tmp_path)}, ROUND)
    assert out.returncode == 0 and out.stdout.split() == ["python", "501"], out.stderr
    assert "native MARS unavailable" in out.stderr


def test_forced_python_never_builds(tmp_path):
    out = child({"EVOFORGE_MARS": "python", "EVOFORGE_MARS_CACHE": str(tmp_path)}, ROUND)
    assert out.returncode == 0 and out.stdout.split() == ["python", "501"], out.stderr
    assert list(tmp_path.iterdir()) == [] and out.stderr == ""


def test_forced_native_without_a_compiler_is_an_error(tmp_path):
    out = child({"EVOFORGE_MARS": "native", "CC": str(tmp_path / "none"),
                 "EVOFORGE_MARS_CACHE": str(tmp_path)}, ROUND)
    assert out.returncode != 0 and "NativeUnavailable" in out.stderr


def test_an_unknown_choice_is_an_error(tmp_path):
    out = child({"EVOFORGE_MARS": "fast"}, ROUND)
    assert out.returncode != 0 and "EVOFORGE_MARS must be one of" in out.stderr


@needs_native
def test_an_unusable_cache_folder_falls_back_to_a_private_temporary_one(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"XDG_CACHE_HOME": str(blocker), "TMPDIR": str(tmp), "EVOFORGE_MARS": "native"}
    env.pop("EVOFORGE_MARS_CACHE", None)
    out = subprocess.run([sys.executable, "-c", ROUND], capture_output=True, text=True,
                         env={**{k: v for k, v in os.environ.items()
                                 if k != "EVOFORGE_MARS_CACHE"}, "PYTHONPATH": str(SRC), **env},
                         timeout=600, check=False)
    assert out.returncode == 0 and out.stdout.split() == ["native", "501"], out.stderr
    [folder] = tmp.iterdir()
    assert folder.name == f"evoforge-{os.getuid()}" and folder.stat().st_mode & 0o077 == 0
    assert [p.name.startswith("mars_core-") for p in folder.iterdir()] == [True]


@needs_native
def test_a_cache_folder_others_can_write_is_refused(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    out = child({"EVOFORGE_MARS": "native", "EVOFORGE_MARS_CACHE": str(shared)}, ROUND)
    assert out.returncode != 0 and "not private to this user" in out.stderr
    assert list(shared.iterdir()) == []


@needs_native
def test_concurrent_first_builds_share_one_library(tmp_path):
    """Four processes build into one empty cache at once: all load a complete library."""
    code = ROUND.replace("logging.basicConfig()", "pass")
    procs = [subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(SRC), "EVOFORGE_MARS": "native",
                                   "EVOFORGE_MARS_CACHE": str(tmp_path)}) for _ in range(4)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert all(o.split() == ["native", "501"] for o, _ in outs)
    names = [p.name for p in tmp_path.iterdir()]
    assert len(names) == 1 and names[0].startswith("mars_core-"), names  # no temporary left
