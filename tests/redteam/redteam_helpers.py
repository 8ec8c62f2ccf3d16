"""The red-team corpus: parsing its headers, and an arena that runs one entry and watches the
host for every way it could have got out.

Each file in ``corpus/`` is a candidate program defining ``attack(ctx)``, headed by comments:

    # ATTACK: what it attempts (continuation lines start with "#   ")
    # EXPECT: status=<ok|invalid|error|timeout> reason="<regex on Evaluation.reason>"
    # EXPECT[unshare,none]: status=ok breach=leak -- why this level lets it through
    # BUG[levels]: a sandbox bug that makes the outcome wrong (strict xfail)
    # SKIP[levels]: why it must not run there
    # SETUP: call_timeout=1 cpu_seconds=1 memory_mb=256   (SandboxLimits fields)
    # CHECK: min_elapsed=0.4 | max_seconds=10 | output_capped
    # LINT: exit,clock          (rules evoforge.safety.lint must flag in this program)

Levels are ``bwrap``, ``landlock``, ``unshare``, ``none`` or ``all``, optionally with ``+condition`` (see
`evoforge.testing.sandbox_suite.conditions`: root, cgroups, no-cgroups, no-pids-cap,
cap_sys_ptrace, cap_sys_resource, ptrace_allowed). The last matching EXPECT line wins.

Breaches the arena detects on its own (the candidate's word is never needed, except for
``reported``, where a corpus program prints ``BREACH:...`` after a success only it can see):
leak (a secret in anything recorded), network (the listener got something), host_file,
task_modified, sibling_modified, db_modified, survivor, evaluator_killed, reported.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import sqlite3
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evoforge.sandbox import (
    Candidate,
    Evaluation,
    IsolationLevel,
    SandboxLimits,
    evaluate_code,
)
from evoforge.testing.sandbox_suite import (
    Breach,
    Listener,
    conditions,
    kill_marked,
    tree_digest,
    wait_gone,
)

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
TASK_TEMPLATE = HERE / "task"
HIDDEN_ANSWER = (TASK_TEMPLATE / "hidden_answer.txt").read_text().strip()
EVALUATOR_CANARY = "EVALSRC-7d1e4c0a9b"
API_KEY = "sk-redteam-" + "5f3a9c1e7b2d4086"
SECRET_ENV = {"OPENAI_API_KEY": API_KEY, "ANTHROPIC_API_KEY": "sk-ant-redteam-0c4e1f",
              "HF_TOKEN": "hf_redteam_91b2c7"}
SECRETS = [HIDDEN_ANSWER, EVALUATOR_CANARY, *SECRET_ENV.values()]
LEVELS = ("bwrap", "landlock", "unshare", "none")
BREACHES = {"leak", "network", "host_file", "task_modified", "sibling_modified", "db_modified",
            "survivor", "evaluator_killed", "reported"}
STATUSES = {"ok", "invalid", "error", "timeout"}

LIMITS = SandboxLimits(memory_mb=256, max_processes=64, file_size_mb=8, open_files=128,
                       max_output_bytes=64_000, max_result_bytes=1_000_000)
# Far above what any entry needs on a loaded machine: only the entries that must time out (an
# endless loop, a hang) set a short call_timeout, so a slow start-up never reads as a verdict.
CALL_TIMEOUT = 60.0
EVAL_TIMEOUT = 300.0


class WrongOutcome(AssertionError):
    """The evaluation was recorded with the wrong status or reason."""


# -- the corpus ---------------------------------------------------------------------------------

_DIRECTIVE = re.compile(r"^#\s*(ATTACK|EXPECT|BUG|SKIP|SETUP|CHECK|LINT)(?:\[([^\]]*)\])?:\s?(.*)$")


@dataclass
class Expectation:
    status: str
    reason: str = ""               # regex searched in Evaluation.reason ("" = anything)
    breaches: frozenset[str] = frozenset()
    note: str = ""


@dataclass
class Entry:
    name: str
    path: Path
    code: str
    attack: str = ""
    expects: list[tuple[str, Expectation]] = field(default_factory=list)   # (levels, expect)
    bugs: list[tuple[str, str]] = field(default_factory=list)
    skips: list[tuple[str, str]] = field(default_factory=list)
    setup: dict[str, float] = field(default_factory=dict)
    checks: dict[str, float | bool] = field(default_factory=dict)
    lint: frozenset[str] = frozenset()   # rules the static lint must flag

    def expectation(self, level: str, facts: dict[str, bool]) -> Expectation:
        found = None
        for spec, exp in self.expects:
            if spec_matches(spec, level, facts):
                found = exp
        if found is None:
            raise ValueError(f"{self.name}: no EXPECT line covers level {level}")
        return found

    def bug(self, level: str, facts: dict[str, bool]) -> str | None:
        hits = [text for spec, text in self.bugs if spec_matches(spec, level, facts)]
        return hits[-1] if hits else None

    def skip(self, level: str, facts: dict[str, bool]) -> str | None:
        hits = [text for spec, text in self.skips if spec_matches(spec, level, facts)]
        return hits[-1] if hits else None

    @property
    def call_timeout(self) -> float:
        return float(self.setup.get("call_timeout", CALL_TIMEOUT))

    def limits(self) -> SandboxLimits:
        merged = LIMITS.to_json()
        for key, value in self.setup.items():
            if key in merged:
                merged[key] = int(value) if isinstance(merged[key], int) else value
            elif key != "call_timeout":
                raise ValueError(f"{self.name}: unknown SETUP key {key!r}")
        return SandboxLimits(**merged)


def spec_matches(spec: str, level: str, facts: dict[str, bool]) -> bool:
    """`spec` is "" (all levels) or "a,b+cond,..."; does it cover `level` here?"""
    if not spec.strip():
        return True
    for token in spec.split(","):
        name, *conds = token.strip().split("+")
        if name not in (level, "all"):
            continue
        if all(facts.get(c, False) for c in conds):
            return True
    return False


def _parse_expect(text: str, where: str) -> Expectation:
    body, _, note = text.partition("--")
    fields: dict[str, str] = {}
    for token in shlex.split(body):
        key, sep, value = token.partition("=")
        if not sep:
            raise ValueError(f"{where}: expected key=value, got {token!r}")
        fields[key] = value
    unknown = set(fields) - {"status", "reason", "breach"}
    if unknown or fields.get("status") not in STATUSES:
        raise ValueError(f"{where}: bad EXPECT {text!r}")
    breaches = frozenset(b for b in fields.get("breach", "").split(",") if b)
    if breaches - BREACHES:
        raise ValueError(f"{where}: unknown breach {sorted(breaches - BREACHES)}")
    re.compile(fields.get("reason", ""))
    return Expectation(fields["status"], fields.get("reason", ""), breaches, " ".join(note.split()))


def parse_entry(path: Path) -> Entry:
    code = path.read_text()
    entry = Entry(path.stem, path, code)
    directives: list[list[str]] = []
    for line in code.splitlines():
        if not line.startswith("#"):
            break
        match = _DIRECTIVE.match(line)
        if match:
            directives.append([match.group(1), match.group(2) or "", match.group(3)])
        elif directives and line.startswith("#  "):
            directives[-1][2] += " " + line[1:].strip()
    for key, spec, text in directives:
        for token in spec.split(","):
            if token.strip() and token.strip().split("+")[0] not in (*LEVELS, "all"):
                raise ValueError(f"{path.name}: unknown level {token!r}")
        where = f"{path.name} {key}[{spec}]"
        if key == "ATTACK":
            entry.attack = " ".join(text.split())
        elif key == "EXPECT":
            entry.expects.append((spec, _parse_expect(text, where)))
        elif key == "BUG":
            entry.bugs.append((spec, " ".join(text.split())))
        elif key == "SKIP":
            entry.skips.append((spec, " ".join(text.split())))
        elif key == "LINT":
            entry.lint = frozenset(r.strip() for r in text.split(",") if r.strip())
        elif key in ("SETUP", "CHECK"):
            target = entry.setup if key == "SETUP" else entry.checks
            for token in shlex.split(text):
                name, sep, value = token.partition("=")
                target[name] = float(value) if sep else True
    if not entry.attack or not entry.expects:
        raise ValueError(f"{path.name}: needs an ATTACK and an EXPECT header line")
    if "def attack(" not in code:
        raise ValueError(f"{path.name}: defines no attack(ctx)")
    return entry


def load_corpus() -> list[Entry]:
    return [parse_entry(p) for p in sorted(CORPUS.glob("*.py"))]


# -- the arena ----------------------------------------------------------------------------------

@dataclass
class Outcome:
    evaluation: Evaluation
    wall: float
    breaches: dict[str, str]       # kind -> evidence
    scratch_left: list[str]


class Arena:
    """A task folder with hidden data, a run database, a live sibling candidate, host canaries
    and listeners: everything an attack could reach, watched from the host."""

    def __init__(self, root: Path, level: str) -> None:
        self.root = root
        self.level = level
        self.marker = f"evoforge-redteam-{uuid.uuid4().hex}"
        self.task = Path(shutil.copytree(TASK_TEMPLATE, root / "task"))
        (root / "run").mkdir()
        self.db = root / "run" / "run.db"
        with sqlite3.connect(self.db) as db:
            db.execute("CREATE TABLE attempts (id TEXT, score REAL)")
            db.execute("INSERT INTO attempts VALUES ('honest', 0.88)")
        self.canary = root / "host-folder"
        self.canary.mkdir()
        self.host_tmp_file = Path(tempfile.gettempdir()) / self.marker
        self.scratch = root / "scratch"
        self.scratch.mkdir()
        (root / "sibling").mkdir()
        self.sibling = Candidate.create(
            "def attack(ctx):\n    return 0.5\n", isolation=level, limits=LIMITS,
            parent_dir=root / "sibling")
        self.listener = Listener(root)

    def ctx(self) -> dict[str, Any]:
        return {
            "task_dir": str(self.task), "hidden": str(self.task / "hidden_answer.txt"),
            "evaluator": str(self.task / "evaluate.py"), "db": str(self.db),
            "canary_dir": str(self.canary), "host_tmp_file": str(self.host_tmp_file),
            "sibling_dir": str(self.sibling.work_dir), "sibling_program": str(self.sibling.path),
            "port": self.listener.port, "udp_port": self.listener.udp_port,
            "unix_socket": self.listener.unix_path, "abstract_socket": self.listener.abstract_name,
            "marker": self.marker, "host_pid": os.getpid(),
        }

    def _digests(self) -> dict[str, str]:
        return {"task_modified": tree_digest(self.task),
                "sibling_modified": tree_digest(self.sibling.root),
                "db_modified": tree_digest(self.db)}

    def run(self, entry: Entry) -> Outcome:
        before = self._digests()
        old_tempdir = tempfile.tempdir
        tempfile.tempdir = str(self.scratch)  # evaluate_code's scratch dirs go here
        start = time.monotonic()
        try:
            ev = evaluate_code(self.task, entry.code, timeout=EVAL_TIMEOUT, limits=entry.limits(),
                               isolation=self.level,
                               stage_args={"ctx": self.ctx(), "call_timeout": entry.call_timeout})
        finally:
            tempfile.tempdir = old_tempdir
        wall = time.monotonic() - start
        breaches = self._breaches(ev, before)
        return Outcome(ev, wall, breaches, sorted(p.name for p in self.scratch.iterdir()))

    def _breaches(self, ev: Evaluation, before: dict[str, str]) -> dict[str, str]:
        found: dict[str, str] = {}
        survivors = wait_gone(self.marker, 2.0)
        if survivors:
            found["survivor"] = f"processes {survivors} outlived the evaluation"
        arrived = self.listener.settle()
        if arrived:
            found["network"] = f"the host listener received {arrived[:3]}"
        recorded = json.dumps(ev.to_json())
        leaked = [s for s in SECRETS if s in recorded or any(s.encode() in d for _, d in arrived)]
        if leaked:
            found["leak"] = f"secrets in what was recorded: {leaked}"
        texts = [ev.stdout, ev.stderr, ev.reason, *ev.artifacts.values()]
        if ev.result is not None:
            texts += [ev.result.feedback, *ev.result.artifacts.values()]
        reported = sorted({m for t in texts for m in re.findall(r"(?m)^BREACH:.*$", t or "")})
        if reported:
            found["reported"] = f"the candidate reported {reported[:3]}"
        planted = [str(p) for p in self.canary.iterdir()]
        planted += [str(p) for p in Path(tempfile.gettempdir()).glob(self.marker + "*")]
        if planted:
            found["host_file"] = f"files appeared on the host: {planted}"
        for kind, digest in self._digests().items():
            if digest != before[kind]:
                found[kind] = f"{kind.replace('_', ' ')}"
        if ev.reason.startswith("the evaluator process died"):
            found["evaluator_killed"] = ev.reason
        return found

    def close(self) -> None:
        kill_marked(self.marker)
        self.listener.close()
        self.sibling.close()
        for path in Path(tempfile.gettempdir()).glob(self.marker + "*"):
            path.unlink()


def judge(entry: Entry, level: str, outcome: Outcome, facts: dict[str, bool] | None = None
          ) -> None:
    """Raise WrongOutcome, Breach (exactly the declared breaches happened: the level is known
    to be weaker) or AssertionError (anything else); return quietly when all is contained."""
    facts = conditions() if facts is None else facts
    exp = entry.expectation(level, facts)
    ev = outcome.evaluation
    where = f"{entry.name} under {level}"
    if outcome.wall > EVAL_TIMEOUT + 10:
        raise AssertionError(f"{where}: the evaluation took {outcome.wall:.1f}s")
    if outcome.scratch_left:
        raise AssertionError(f"{where}: scratch left behind: {outcome.scratch_left}")
    if ev.status != exp.status or (exp.reason and not re.search(exp.reason, ev.reason)):
        raise WrongOutcome(f"{where}: recorded ({ev.status!r}, {ev.reason[:400]!r}); expected "
                           f"status {exp.status!r} and a reason matching {exp.reason!r}")
    problems = []
    if "min_elapsed" in entry.checks:
        elapsed = (ev.result.metrics.get("elapsed", 0.0) if ev.result else 0.0)
        if elapsed < float(entry.checks["min_elapsed"]):
            problems.append(f"the evaluator measured {elapsed:.3f}s")
    if "max_seconds" in entry.checks and outcome.wall > float(entry.checks["max_seconds"]):
        problems.append(f"the evaluation took {outcome.wall:.1f}s")
    if entry.checks.get("output_capped"):
        limit = entry.limits().max_output_bytes
        kept = len(json.dumps(ev.to_json()))
        if kept > 6 * limit + 20_000 or "bytes truncated" not in ev.artifacts.get(
                "candidate_stdout", ""):
            problems.append(f"{kept} characters of output were kept (limit {limit} per stream)")
    if problems:
        raise AssertionError(f"{where}: " + "; ".join(problems))
    observed = set(outcome.breaches)
    if observed != set(exp.breaches):
        details = {k: outcome.breaches.get(k, "did not happen") for k in observed ^ exp.breaches}
        raise AssertionError(f"{where}: breaches {sorted(observed)} but the corpus declares "
                             f"{sorted(exp.breaches)} for this level: {details}")
    if observed:
        raise Breach(f"{where}: {outcome.breaches}")


def level_available(level: str) -> bool:
    from evoforge.sandbox.isolation import probe

    return probe(IsolationLevel.parse(level))
