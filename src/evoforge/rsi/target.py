"""``evoforge self-improve --target evoforge.<module>``: the engine improves one of evoforge's own components.

Nothing here ever changes the installed package. The run works on a *snapshot*:

    OUT/target_task/            an ordinary task folder
        initial.py              the target module's source (the whole file is the evolve block)
        evaluate.py             trusted; calls `evaluate_target` below
        target.json             the target, its test files and its benchmark
        package/evoforge/       a copy of the installed package, taken when the task was built
        tests/                  the test files relevant to the target (plus tests/conftest.py)
    OUT/target_run/             the evoforge run (run.db, snapshot, best.py)
    OUT/patch.diff              unified diff: best program vs the original module (may be empty)
    OUT/report.md               scores before/after, test results, the diff — for a human to review

Each evaluation copies `package/` and `tests/` into the candidate's own sandbox directory,
writes the candidate's code over the target module *in that copy*, and then, only through
`candidate.run` (sandboxed process, cwd = that directory, so `import evoforge` resolves to the
copy):

1. stage 1 runs the target's tests with pytest; any failure -> ``Result.invalid("N tests failed: ...")``;
2. stage 2 runs a benchmark script that only prints raw outputs; the score is computed here,
   outside the sandbox, against expected answers the sandbox never sees.

Benchmarks: ``diff`` (evoforge.mutate.match / .edits): the fraction of a corpus of imperfectly
copied SEARCH/REPLACE edits (indentation drift, trailing spaces, blank lines, fragments, and
SEARCH texts that must be refused) whose outcome is correct. ``selection``
(evoforge.search.selection): the mean best fitness a toy 1-D evolution reaches when the
candidate's default rule picks the parents (the picks are replayed here).
"""
from __future__ import annotations

import difflib
import json
import math
import random
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import UserError

BENCH_DIR = Path(__file__).with_name("target_bench")
MARK = "@@EVOFORGE-BENCH@@"


@dataclass(frozen=True)
class Target:
    module: str
    tests: tuple[str, ...]      # paths relative to the repository's tests/ folder
    bench: str                  # "diff" or "selection"
    what: str


TARGETS: dict[str, Target] = {
    "evoforge.mutate.match": Target("evoforge.mutate.match", ("mutate/test_mutate_edits.py",), "diff",
                                    "the SEARCH-text matcher of the diff applier"),
    "evoforge.mutate.edits": Target("evoforge.mutate.edits", ("mutate/test_mutate_edits.py",), "diff",
                                    "the SEARCH/REPLACE diff applier"),
    "evoforge.search.selection": Target("evoforge.search.selection",
                                        ("search/test_population.py", "search/test_selection.py"), "selection",
                                        "the parent-selection rules (the registry the population selects with)"),
}

DESCRIPTIONS = {
    "diff": ("The program is a module of evoforge, the engine that applies a language model's SEARCH/REPLACE "
             "edits to code. Models copy SEARCH text imperfectly (indentation, trailing spaces, blank lines, "
             "fragments of a line). The score is the fraction of a corpus of such edits whose outcome is right: "
             "applied at the right place with the right indentation, or refused when the SEARCH text is not in "
             "the code. evoforge's own tests of this module must keep passing. Keep every public name and "
             "signature; standard library only."),
    "selection": ("The program is evoforge's parent-selection module; each registered rule's select() picks "
                  "the parent of each new program. The score is the mean best fitness a small evolution reaches "
                  "with this module choosing parents under the default rule, 'weighted' (higher is better). evoforge's own tests of "
                  "this module must keep passing. Keep every public name and signature; standard library only."),
}


def package_dir() -> Path:
    import evoforge

    return Path(evoforge.__file__).resolve().parent


def resolve_target(module: str) -> tuple[Target, Path, Path]:
    """(target, module file in the installed package, repository tests/ folder) or UserError."""
    target = TARGETS.get(module)
    if target is None:
        raise UserError(f"unknown --target {module!r}: supported targets are {', '.join(sorted(TARGETS))}")
    pkg = package_dir()
    source = pkg.joinpath(*module.split(".")[1:]).with_suffix(".py")
    if not source.is_file():
        raise UserError(f"--target {module}: {source} not found in the installed package")
    tests = pkg.parent.parent / "tests"
    missing = [t for t in target.tests if not (tests / t).is_file()]
    if missing or not (tests / "conftest.py").is_file():
        raise UserError(f"--target {module} needs evoforge's test suite ({', '.join('tests/' + t for t in target.tests)}),"
                        f" which is not next to the installed package (looked in {tests}); run from a source "
                        "checkout installed with `pip install -e .`")
    return target, source, tests


# -- the benchmark corpora (trusted side) -------------------------------------------------------------

_CORPUS_FILES = ("engine/budget.py", "search/novelty.py", "mutate/operators.py", "config.py", "task.py")


def diff_corpus(pkg: Path, n_per_kind: int = 8, seed: int = 0) -> list[dict[str, Any]]:
    """Cases {code, search, replace, expected (code or None), kind}, built from evoforge's own source."""
    rng = random.Random(seed)
    snippets = []
    for rel in _CORPUS_FILES:
        path = pkg / rel
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            if "EVOLVE-BLOCK" not in text:
                snippets.append(text.split("\n"))
    if not snippets:
        raise UserError("cannot build the diff benchmark corpus: evoforge's source files are missing")
    kinds = ("exact", "trailing", "dedent", "first_dedent", "blank_drop", "fragment", "absent")
    cases: list[dict[str, Any]] = []
    for kind in kinds:
        made, tries = 0, 0
        while made < n_per_kind and tries < 2000:
            tries += 1
            lines = rng.choice(snippets)
            lo = rng.randrange(0, max(1, len(lines) - 60))
            snippet = lines[lo:lo + 60]
            case = _make_case(snippet, kind, rng, len(cases))
            if case is not None:
                cases.append(case)
                made += 1
    return cases


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" "))]


def _make_case(snippet: list[str], kind: str, rng: random.Random, k: int) -> dict[str, Any] | None:
    code = "\n".join(snippet) + "\n"
    stripped = [s.strip() for s in snippet]
    size = 1 if kind == "fragment" else rng.randint(2, 4)
    start = rng.randrange(0, max(1, len(snippet) - size))
    window = snippet[start:start + size]
    if len(window) < size or not all(w.strip() for w in window) or any("\t" in w for w in window):
        return None
    if kind == "blank_drop":  # needs a blank line inside: take the window across one
        blanks = [i for i in range(1, len(snippet) - 1) if not snippet[i].strip() and snippet[i - 1].strip()
                  and snippet[i + 1].strip()]
        if not blanks:
            return None
        b = rng.choice(blanks)
        start, window = b - 1, snippet[b - 1:b + 2]
    # unambiguous: the window's non-blank stripped content occurs once in the snippet
    key = [s.strip() for s in window if s.strip()]
    nb = [s for s in stripped if s]
    if sum(nb[i:i + len(key)] == key for i in range(len(nb) - len(key) + 1)) != 1:
        return None
    base = _indent(window[-1])  # a width the SEARCH shows, so the expected indentation is unambiguous
    added = f"{base}_evoforge_edit_{k} = {k}"
    new_window = window[:-1] + [window[-1] + f"  # edited {k}", added]
    expected_lines = snippet[:start] + new_window + snippet[start + len(window):]
    expected: str | None = "\n".join(expected_lines) + "\n"
    search_lines, replace_lines = list(window), list(new_window)
    if kind == "trailing":
        search_lines = [s + "  " for s in search_lines]
    elif kind in ("dedent", "first_dedent"):
        width = min(len(_indent(s)) for s in window)
        if width == 0:
            return None
        cut = (lambda s: s[width:] if s.strip() else s)
        if kind == "dedent":
            search_lines = [cut(s) for s in search_lines]
            replace_lines = [cut(s) for s in replace_lines]
        else:
            search_lines[0] = search_lines[0].lstrip(" ")
            replace_lines[0] = replace_lines[0].lstrip(" ")
    elif kind == "blank_drop":
        search_lines = [s for s in window if s.strip()]
        replace_lines = [s for s in window if s.strip()][:-1] + new_window[-2:]
        expected_lines = snippet[:start] + window[:-1] + new_window[-2:] + snippet[start + len(window):]
        expected = "\n".join(expected_lines) + "\n"
    elif kind == "fragment":
        line = window[0].strip()
        if len(line) < 12:
            return None
        a = rng.randrange(0, len(line) // 3)
        frag = line[a:a + max(6, len(line) // 2)]
        if sum(frag in s for s in snippet) != 1 or len(frag.strip()) < 6 or frag != frag.strip():
            return None
        new_frag = frag + f"  # edited {k}" if frag == line[a:] else f"({frag})"
        search_lines, replace_lines = [frag], [new_frag]
        expected_lines = list(snippet)
        expected_lines[start] = snippet[start].replace(frag, new_frag, 1)
        expected = "\n".join(expected_lines) + "\n"
        if new_frag.startswith("(") and frag.endswith(("(", ",", ":")):
            return None
    elif kind == "absent":  # a mis-copied SEARCH: a word that is not in the code
        victim = rng.randrange(len(search_lines))
        words = re.findall(r"[A-Za-z_]{4,}", search_lines[victim])
        if not words:
            return None
        w = rng.choice(words)
        search_lines[victim] = search_lines[victim].replace(w, w[::-1] + "zq", 1)
        expected = None
    return {"code": code, "search": "\n".join(search_lines), "replace": "\n".join(replace_lines),
            "expected": expected, "kind": kind}


def selection_spec(seeds: int = 6, steps: int = 120) -> dict[str, Any]:
    rng = random.Random(1234)
    return {"seeds": list(range(seeds)), "x0": 4.0, "archive_size": 20,
            "noise": [[rng.gauss(0.0, 0.6) for _ in range(steps)] for _ in range(seeds)]}


def _f(x: float) -> float:
    return math.cos(3 * x) - x * x / 10


# -- the trusted evaluator ---------------------------------------------------------------------------

def _bench_output(stdout: str) -> Any:
    if MARK not in stdout:
        raise ValueError("the benchmark printed no result")
    return json.loads(stdout.rsplit(MARK, 1)[1])


def _failed_tests(out: str) -> list[str]:
    names = re.findall(r"^(?:FAILED|ERROR) (\S+)", out, flags=re.MULTILINE)
    return list(dict.fromkeys(names))


def _count(out: str, word: str) -> int:
    m = re.findall(rf"(\d+) {word}", out)
    return int(m[-1]) if m else 0


def evaluate_target(candidate: Any, spec_path: str | Path) -> Any:
    """Stage 1 (the module's tests) and stage 2 (benchmark) of one candidate; see the module docstring."""
    from evoforge import Result

    spec_path = Path(spec_path)
    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    task_dir = spec_path.parent
    work = Path(candidate.work_dir)
    shutil.copytree(task_dir / "package" / "evoforge", work / "evoforge",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (work / spec["module_path"]).write_text(candidate.code, encoding="utf-8")
    shutil.copytree(task_dir / "tests", work / "tests", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    bench_script = f"run_{spec['bench']}.py"
    shutil.copyfile(task_dir / bench_script, work / bench_script)
    py = sys.executable

    check = candidate.run([py, "-B", "-c", "import evoforge, os; print(os.path.realpath(evoforge.__file__))"],
                          timeout=60)
    where = check.stdout.strip().splitlines()[-1:] or [""]
    if check.returncode != 0 or not where[0].startswith(str(work.resolve())):
        return Result.invalid(f"the candidate's copy of evoforge does not import in the sandbox: "
                              f"{(check.stderr.strip().splitlines() or [where[0]])[-1][:300]}")

    tests = [f"tests/{t}" for t in spec["tests"]]
    run = candidate.run([py, "-B", "-m", "pytest", "-q", "-rfE", "--no-header", "-p", "no:cacheprovider",
                         "--rootdir", ".", "-o", "addopts=", *tests], timeout=spec["test_timeout"])
    out = run.stdout + "\n" + run.stderr
    passed, failed, errors = _count(out, "passed"), _count(out, "failed"), _count(out, "error")
    if run.timed_out:
        return Result.invalid(f"the tests of {spec['module']} timed out after {spec['test_timeout']}s",
                              tests_passed=passed)
    if run.returncode != 0:
        names = _failed_tests(out)
        n = failed + errors or len(names)
        if n:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            return Result.invalid(f"{n} tests failed: {shown or '(see output)'}", tests_passed=passed,
                                  tests_failed=n)
        tail = (out.strip().splitlines() or ["no output"])[-1]
        return Result.invalid(f"the tests of {spec['module']} did not run (pytest exit {run.returncode}): "
                              f"{tail[:300]}", tests_passed=passed)

    if spec["bench"] == "diff":
        cases = json.loads((task_dir / "bench_cases.json").read_text(encoding="utf-8"))
        public = [{k: c[k] for k in ("code", "search", "replace")} for c in cases]
        b = candidate.run([py, "-B", bench_script], stdin=json.dumps(public), timeout=spec["bench_timeout"])
        try:
            got = _bench_output(b.stdout)
            if not isinstance(got, list) or len(got) != len(cases):
                raise ValueError("wrong number of answers")
        except ValueError as exc:
            return Result.invalid(f"the diff benchmark failed: {exc}; {(b.stderr.strip().splitlines() or [''])[-1][:300]}",
                                  tests_passed=passed)
        by_kind: dict[str, list[int]] = {}
        wrong: list[str] = []
        for case, answer in zip(cases, got):
            ok = answer == case["expected"]
            by_kind.setdefault(case["kind"], []).append(int(ok))
            if not ok and len(wrong) < 3:
                what = "refused" if answer is None else ("crashed" if isinstance(answer, dict) else "wrong code")
                wrong.append(f"{case['kind']}: {what}")
        score = sum(sum(v) for v in by_kind.values()) / len(cases)
        metrics: dict[str, Any] = {f"ok_{k}": sum(v) / len(v) for k, v in by_kind.items()}
        metrics.update(tests_passed=passed, bench_seconds=round(b.seconds, 3), cases=len(cases))
        feedback = (f"{passed} tests passed; {score:.1%} of {len(cases)} edits handled correctly ("
                    + ", ".join(f"{k} {sum(v)}/{len(v)}" for k, v in by_kind.items()) + ")"
                    + (f"; e.g. {'; '.join(wrong)}" if wrong else ""))
        return Result(score=score, feedback=feedback, metrics=metrics)

    sel = json.loads((task_dir / "bench_cases.json").read_text(encoding="utf-8"))
    b = candidate.run([py, "-B", bench_script], stdin=json.dumps(sel), timeout=spec["bench_timeout"])
    try:
        picks = _bench_output(b.stdout)
        bests = [_replay(sel, noise, seed_picks) for noise, seed_picks in zip(sel["noise"], picks)]
        if len(bests) != len(sel["noise"]):
            raise ValueError("wrong number of seeds")
    except (ValueError, TypeError) as exc:
        return Result.invalid(f"the selection benchmark failed: {exc}; "
                              f"{(b.stderr.strip().splitlines() or [''])[-1][:300]}", tests_passed=passed)
    score = sum(bests) / len(bests)
    return Result(score=score, feedback=f"{passed} tests passed; mean best fitness {score:.4f} over {len(bests)} "
                  f"seeds (global maximum 1.0); worst seed {min(bests):.4f}",
                  metrics={"tests_passed": passed, "worst_seed": min(bests), "bench_seconds": round(b.seconds, 3)})


def _replay(spec: dict[str, Any], noise: list[float], picks: Any) -> float:
    """Best fitness of one toy evolution, recomputed from the parent ids the candidate chose."""
    if not isinstance(picks, list) or len(picks) != len(noise):
        raise ValueError("wrong number of parent choices")
    xs = {"p0": float(spec["x0"])}
    for step, (parent, delta) in enumerate(zip(picks, noise), start=1):
        if parent not in xs:
            raise ValueError(f"step {step} chose {str(parent)[:40]!r}, which did not exist yet")
        xs[f"p{step}"] = xs[parent] + delta
    return max(_f(x) for x in xs.values())


EVALUATE_PY = '''\
"""Generated by evoforge self-improve --target: the candidate is one module of evoforge, run in a
sandboxed copy of the package against evoforge's own tests, then a benchmark (evoforge.rsi.target)."""
from pathlib import Path

from evoforge import Candidate, Result
from evoforge.rsi.target import evaluate_target


def evaluate(candidate: Candidate) -> Result:
    return evaluate_target(candidate, Path(__file__).with_name("target.json"))
'''


# -- the command --------------------------------------------------------------------------------------

@dataclass
class TargetOptions:
    module: str
    out: str
    llm: str | None = None
    budget: int = 10
    proposals: int | None = None
    seed: int = 0
    isolation: str = "auto"
    overrides: dict[str, Any] | None = None


@dataclass
class TargetReport:
    out_dir: str
    run_dir: str
    stop_reason: str
    baseline: float | None
    best: float | None
    best_id: str | None
    patch: str
    report: str
    changed: bool


def build_target_task(target: Target, source: Path, tests: Path, folder: Path, opts: TargetOptions) -> Path:
    pkg = package_dir()
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copytree(pkg, folder / "package" / "evoforge", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (folder / "tests").mkdir()
    shutil.copyfile(tests / "conftest.py", folder / "tests" / "conftest.py")
    for rel in target.tests:
        sub = (tests / rel).parent
        dest = folder / "tests" / sub.relative_to(tests)
        if not dest.exists():
            shutil.copytree(sub, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copyfile(source, folder / "initial.py")
    (folder / "evaluate.py").write_text(EVALUATE_PY, encoding="utf-8")
    shutil.copyfile(BENCH_DIR / f"run_{target.bench}.py", folder / f"run_{target.bench}.py")
    cases: Any = diff_corpus(folder / "package" / "evoforge") if target.bench == "diff" else selection_spec()
    (folder / "bench_cases.json").write_text(json.dumps(cases), encoding="utf-8")
    spec = {"module": target.module, "module_path": str(source.relative_to(pkg.parent)), "tests": list(target.tests),
            "bench": target.bench, "test_timeout": 240, "bench_timeout": 60}
    (folder / "target.json").write_text(json.dumps(spec, indent=2), encoding="utf-8")
    config = {
        "name": "target-" + target.module.rsplit(".", 1)[-1], "description": DESCRIPTIONS[target.bench],
        "direction": "maximize", "program": "initial.py", "seed": opts.seed,
        "evaluator": {"timeout": 400.0, "workers": 1, "isolation": opts.isolation},
        "budget": {"llm_calls": opts.budget, "proposals": opts.proposals or 2 * opts.budget},
        # a module is hundreds of lines: one-line improvements look like MinHash duplicates, so only
        # programs whose MinHash estimate is 1.0 are dropped (novelty_threshold 1.0)
        "search": {"islands": 1, "novelty_threshold": 1.0},
    }
    (folder / "task.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return folder


def run_target(opts: TargetOptions, *, log: Callable[[str], None] | None = None, progress: bool = False) -> TargetReport:
    """Evolve one evoforge module in a sandboxed copy; write OUT/patch.diff and OUT/report.md."""
    import evoforge

    from ..storage import open_storage
    from .outer import run_outcome

    say = log or (lambda _text: None)
    target, source, tests = resolve_target(opts.module)
    out = Path(opts.out)
    if (out / "target_task").exists() or (out / "target_run").exists():
        raise UserError(f"{out} already holds a self-improve --target run; choose a new --out folder")
    original = source.read_text(encoding="utf-8")
    task_dir = build_target_task(target, source, tests, out / "target_task", opts)
    say(f"self-improve --target {target.module}: {target.what}; stage 1 = tests/{', tests/'.join(target.tests)}, "
        f"stage 2 = {target.bench} benchmark; the installed package is not modified")
    result = evoforge.run(task_dir, llm=opts.llm, run_dir=out / "target_run", overrides=dict(opts.overrides or {}),
                          progress=progress, log=log)
    store = open_storage(result.storage_url)
    try:
        attempts, initial, best = run_outcome(store, result.run_id)
    finally:
        store.close()
    improved = (best is not None and initial.score is not None and best.score is not None
                and best.score > initial.score and best.id != initial.id)
    new_code = best.code if improved and best is not None and best.code else original
    rel = f"src/{target.module.replace('.', '/')}.py"
    patch = "".join(difflib.unified_diff(original.splitlines(keepends=True), new_code.splitlines(keepends=True),
                                         fromfile=f"a/{rel}", tofile=f"b/{rel}"))
    (out / "patch.diff").write_text(patch, encoding="utf-8")
    invalid = [a for a in attempts if a.score is None and a.mutation != "initial"]
    lines = [f"# self-improve --target {target.module}", "",
             (f"Target: {target.what} (`{rel}`). Stage 1: evoforge's tests "
              f"{', '.join('`tests/' + t + '`' for t in target.tests)}; stage 2: the `{target.bench}` benchmark "
              "(see `evoforge.rsi.target`). Everything ran on a sandboxed copy; **the installed package was not "
              "changed**. Review the patch, then apply it yourself if you want it: "
              f"`git apply {(out / 'patch.diff').resolve()}`."), "",
             (f"- run: `{result.run_dir}` ({result.stop_reason}); {len(attempts)} attempts, "
              f"{len(invalid)} invalid or failed"),
             f"- baseline (current module): score {_fmt(initial.score)} — {initial.reason or initial.status.value}",
             f"- best: {best.id if best else 'none'} score {_fmt(best.score if best else None)}"
             + (f" — {best.reason}" if best is not None and best.reason else ""),
             f"- verdict: {'candidate patch (better benchmark score, all tests passed)' if improved else 'no improvement found; the patch is empty'}",
             ""]
    if invalid:
        lines += ["## Rejected attempts (first 10)", ""]
        lines += [f"- {a.id} ({a.mutation}): {a.status.value} — {(a.reason or '').splitlines()[0][:200] if a.reason else ''}"
                  for a in invalid[:10]]
        lines.append("")
    lines += ["## Patch", "", "```diff", patch.rstrip("\n") or "(empty)", "```", ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    return TargetReport(str(out), str(result.run_dir), result.stop_reason, initial.score,
                        best.score if best else None, best.id if best else None, str(out / "patch.diff"),
                        str(out / "report.md"), improved)


def _fmt(x: float | None) -> str:
    return "none" if x is None else f"{x:.6g}"
