"""``evoforge dgm``: the Darwin Gödel Machine loop over self-modifying coding agents.

Each iteration: pick a parent from the archive (`archive.parent_weight`), give the *parent agent*
a copy of its own folder and a summary of its failures, and let it edit that copy (in the
sandbox, model calls through the trusted broker). The edited copy is the child. It is checked
(it must still compile) and evaluated in stages: the benchmark's small ``stage1`` subset first,
the rest only if the stage-1 solve rate reaches the threshold. Scores come only from hidden
tests run by the trusted process (`bench.run_hidden_tests`), never from what an agent prints.

Everything is recorded: ``OUT/archive.json`` and ``OUT/agents/ID/`` (every agent, failed ones
included), ``OUT/evals/ID.json`` (per-task outcomes and log tails) and an evoforge run in
``OUT/run.db`` (one attempt per agent, its model calls and ``dgm_iteration`` events), so
``evoforge export OUT`` and the dashboard work on it.
"""
from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ...errors import UserError
from ...program import Attempt, AttemptStatus, LLMCallRecord
from ...sandbox.isolation import IsolationLevel, detect_isolation
from .agent_process import AgentRun, read_tree, run_agent
from .archive import AgentRecord, Archive
from .bench import (
    Bench,
    BenchTask,
    TestOutcome,
    check_hidden_tests_unreachable,
    load_bench,
    run_hidden_tests,
    visible_files,
)

INITIAL_AGENT = Path(__file__).with_name("initial_agent")

SELF_MOD_STATEMENT = """\
# Improve a coding agent

The folder agent_code/ holds the code of a coding agent. agent.py is its entry point
(`python agent.py TASK_DIR`); it reads TASK_DIR/STATEMENT.md and the files next to it, asks a
language model for edits through llm.py and applies them with tools.py. The agent is scored by
how many small bug-fixing tasks it solves: each task folder holds STATEMENT.md and one buggy
Python module, and the agent must edit the module so that hidden tests pass.

Last evaluation of this agent: solved {solved} of {evaluated} tasks.
{failures}

Make one focused improvement to the code in agent_code/ so that it solves more tasks: for
example clearer instructions to the model, more tolerant parsing of the model's edits, checking
its work by running the code, or using its steps better. Keep `python agent.py TASK_DIR` and the
protocol of llm.py working; an agent that breaks is discarded.
"""


@dataclass
class DGMOptions:
    """What ``evoforge dgm`` was asked to do."""

    bench: str
    out: str
    llm: str | None = None
    iterations: int = 4
    seed: int = 0
    agent_calls: int = 4
    self_mod_calls: int = 6
    threshold: float | None = None
    isolation: str = "auto"
    agent_timeout: float = 300.0


@dataclass
class AgentEvaluation:
    """Hidden-test outcomes of one agent over the tasks it was tried on."""

    outcomes: dict[str, dict[str, Any]] = field(default_factory=dict)
    logs: dict[str, str] = field(default_factory=dict)
    crashes: int = 0
    stage: int = 1
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def solved(self) -> list[str]:
        return [t for t, o in self.outcomes.items() if o["total"] and o["passed"] == o["total"]]

    @property
    def score(self) -> float:
        return len(self.solved) / len(self.outcomes) if self.outcomes else 0.0


def initial_agent_files() -> dict[str, str]:
    return {k: v for k, v in read_tree(INITIAL_AGENT).items() if k != "__init__.py"}


def pack(files: dict[str, str]) -> str:
    """An agent folder as one text (the attempt's code in storage)."""
    return "".join(f"# ==== agent file: {name} ====\n{text}{'' if text.endswith(chr(10)) else chr(10)}"
                   for name, text in sorted(files.items()))


def compile_problems(files: dict[str, str]) -> list[str]:
    """Syntax errors of the agent's Python files (compiled only, never run, here)."""
    if "agent.py" not in files:
        return ["agent.py is missing"]
    problems = []
    for name, text in files.items():
        if name.endswith(".py"):
            try:
                compile(text, name, "exec")
            except (SyntaxError, ValueError) as exc:
                problems.append(f"{name}: {exc}")
    return problems


class _Context:
    """What one DGM run shares: benchmark, provider, isolation, options, log."""

    def __init__(self, opts: DGMOptions, bench: Bench, provider: Any, level: IsolationLevel,
                 say: Callable[[str], None]) -> None:
        self.opts, self.bench, self.provider, self.level, self.say = opts, bench, provider, level, say
        self.threshold = bench.threshold if opts.threshold is None else opts.threshold

    def agent(self, files: dict[str, str], task_files: dict[str, str], calls: int) -> AgentRun:
        return run_agent(files, task_files, provider=self.provider, level=self.level, max_calls=calls,
                         timeout=self.opts.agent_timeout)


def _attempt(ctx: _Context, files: dict[str, str], task: BenchTask, ev: AgentEvaluation) -> None:
    run = ctx.agent(files, visible_files(task), ctx.opts.agent_calls)
    ev.calls += [{**c, "purpose": "dgm_solve", "task": task.name} for c in run.calls]
    ev.crashes += run.crashed
    module = run.files.get(task.module)
    if module is None:
        outcome = TestOutcome(task.name, 0, len(task.cases), "the agent removed the module")
    else:
        outcome = run_hidden_tests(task, module, level=ctx.level)
    ev.outcomes[task.name] = {"passed": outcome.passed, "total": outcome.total, "note": outcome.note,
                              "agent_exit": run.returncode, "timed_out": run.timed_out}
    ev.logs[task.name] = run.log[-3000:]


def evaluate_agent(ctx: _Context, files: dict[str, str], *, full: bool = False) -> AgentEvaluation:
    """Staged evaluation: stage 1 on the small subset; the rest only past the threshold (or `full`)."""
    ev = AgentEvaluation()
    for name in ctx.bench.stage1:
        _attempt(ctx, files, ctx.bench.task(name), ev)
    if full or ev.score >= ctx.threshold:
        ev.stage = 2
        for task in ctx.bench.tasks:
            if task.name not in ev.outcomes:
                _attempt(ctx, files, task, ev)
    return ev


def self_modify(ctx: _Context, parent_files: dict[str, str], parent_eval: dict[str, Any]) -> tuple[dict[str, str], AgentRun]:
    """The parent agent edits a copy of its own folder; returns the copy afterwards."""
    failures = []
    for name, o in parent_eval.get("outcomes", {}).items():
        if o["passed"] < o["total"]:
            tail = "\n".join(parent_eval.get("logs", {}).get(name, "").strip().splitlines()[-15:])
            failures.append(f"## {name}: not solved ({o['passed']}/{o['total']} hidden tests passed)\n{tail}")
    statement = SELF_MOD_STATEMENT.format(solved=len(parent_eval.get("solved", [])),
                                          evaluated=len(parent_eval.get("outcomes", {})),
                                          failures="\n\n".join(failures[:5]) or "(it solved every task it was tried on)")
    task_files = {"STATEMENT.md": statement, **{f"agent_code/{k}": v for k, v in parent_files.items()}}
    run = ctx.agent(parent_files, task_files, ctx.opts.self_mod_calls)
    child = {k[len("agent_code/"):]: v for k, v in run.files.items() if k.startswith("agent_code/")}
    return child, run


class _Recorder:
    """The DGM run as an evoforge run in OUT/run.db (attempts, model calls, events)."""

    def __init__(self, out: Path, bench: Bench, opts: DGMOptions) -> None:
        from ...config import load_config
        from ...storage import open_storage, sqlite_url_for

        self.store = open_storage(sqlite_url_for(out / "run.db"))
        config = load_config({"name": f"dgm-{bench.name}", "description": f"Darwin Gödel Machine on {bench.name}",
                              "llm": {"models": [opts.llm] if opts.llm else []}}).to_dict()
        self.info = self.store.create_run(f"dgm-{bench.name}-{uuid.uuid4().hex[:6]}", config, str(bench.root),
                                          meta={"mode": "dgm", "run_dir": str(out.resolve()), "options": asdict(opts)})
        (out / "storage.url").write_text(self.store.url + "\n" + self.info.name + "\n", encoding="utf-8")
        self.index = 0

    def agent(self, record: AgentRecord, files: dict[str, str], calls: list[dict[str, Any]], model: str | None) -> None:
        status = AttemptStatus.OK if record.works else AttemptStatus.INVALID
        attempt = Attempt(run_id=self.info.id, code=pack(files), status=status, id=record.id, parent_id=record.parent_id,
                          generation=record.generation, mutation="initial" if record.parent_id is None else "self_modify",
                          model=model, score=record.score if record.works else None, reason=record.reason,
                          feedback=f"solved {len(record.solved)}/{len(record.evaluated)}: {', '.join(record.solved) or '-'}",
                          metrics={"stage": record.stage, "solved": len(record.solved), "evaluated": len(record.evaluated),
                                   "score_all": record.score},
                          proposal_index=self.index)
        self.index += 1
        self.store.save_attempt(attempt)
        for c in calls:
            self.store.add_llm_call(LLMCallRecord(
                run_id=self.info.id, model=str(c.get("model")), purpose=str(c.get("purpose")),
                input_tokens=int(c.get("input_tokens", 0)), output_tokens=int(c.get("output_tokens", 0)),
                latency_s=float(c.get("latency_s", 0.0)), cost_usd=float(c.get("cost_usd", 0.0)),
                error=str(c.get("error", "")), attempt_id=record.id))

    def close(self) -> None:
        self.store.close()


def _save_eval(out: Path, agent_id: str, ev: AgentEvaluation) -> dict[str, Any]:
    data = {"outcomes": ev.outcomes, "logs": ev.logs, "solved": ev.solved, "score": ev.score, "stage": ev.stage,
            "crashes": ev.crashes}
    (out / "evals").mkdir(parents=True, exist_ok=True)
    (out / "evals" / f"{agent_id}.json").write_text(json.dumps(data, indent=2), encoding="utf-8")
    return data


def _verdict(ev: AgentEvaluation) -> str:
    """Why an evaluated child does not work ("" when it does)."""
    if ev.crashes >= len(ev.outcomes):
        last = next((log.strip().splitlines()[-1] for log in reversed(list(ev.logs.values())) if log.strip()), "")
        return f"the agent crashed on every task it was tried on: {last[:300]}"
    if not ev.solved:
        return "the agent solved no task"
    return ""


def run_dgm(opts: DGMOptions, *, log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the loop (see the module docstring); returns the archive summary."""
    from ...llm.registry import create_provider, default_model_spec

    say = log or (lambda _t: None)
    if opts.iterations < 0 or opts.agent_calls < 1 or opts.self_mod_calls < 1 or opts.agent_timeout <= 0:
        raise UserError("--iterations must be ≥ 0, --agent-calls and --self-mod-calls ≥ 1, --agent-timeout > 0")
    if opts.threshold is not None and not 0 <= opts.threshold <= 1:
        raise UserError(f"--threshold is a solve rate in [0, 1], got {opts.threshold}")
    out = Path(opts.out)
    if (out / "archive.json").exists():
        raise UserError(f"{out} already holds a DGM run; choose a new --out folder")
    bench = load_bench(opts.bench)
    level = detect_isolation(opts.isolation)
    if level < IsolationLevel.LANDLOCK:  # bwrap does not mount them, landlock does not let them be read
        say(f"WARNING: agents run under '{level.name.lower()}' isolation: they CAN READ the hidden tests of "
            f"{bench.root}; scores are not trustworthy (install bubblewrap, or use a kernel with Landlock)")
    check_hidden_tests_unreachable(bench, level)
    provider = create_provider(opts.llm or default_model_spec())
    ctx = _Context(opts, bench, provider, level, say)
    out.mkdir(parents=True, exist_ok=True)
    archive = Archive(out)
    recorder = _Recorder(out, bench, opts)
    rng = random.Random(opts.seed)
    try:
        files = initial_agent_files()
        ev = evaluate_agent(ctx, files, full=True)
        root = AgentRecord("agent-0000", None, 0, "ok", ev.score, ev.solved, list(ev.outcomes), ev.stage,
                           llm_calls=len(ev.calls))
        _save_eval(out, root.id, ev)
        archive.add(root, files)
        recorder.agent(root, files, ev.calls, provider.name)
        say(f"initial agent: solved {len(ev.solved)}/{len(ev.outcomes)} ({', '.join(ev.solved) or '-'})")
        for it in range(1, opts.iterations + 1):
            _iterate(ctx, archive, recorder, rng, it, out)
    finally:
        recorder.close()
        provider.close()
    return {**archive.summary(), "out_dir": str(out)}


def _iterate(ctx: _Context, archive: Archive, recorder: _Recorder, rng: random.Random, it: int, out: Path) -> None:
    parent = archive.select_parent(rng)
    parent_files = archive.files(parent.id)
    parent_eval = json.loads((out / "evals" / f"{parent.id}.json").read_text(encoding="utf-8"))
    child_files, run = self_modify(ctx, parent_files, parent_eval)
    calls = [{**c, "purpose": "dgm_self_modify"} for c in run.calls]
    record = AgentRecord(f"agent-{it:04d}", parent.id, parent.generation + 1, "failed")
    problems = compile_problems(child_files)
    if child_files == parent_files:
        record.reason = "the self-modification changed nothing" + (" (the parent agent crashed)" if run.crashed else "")
    elif problems:
        record.reason = "the child does not compile: " + "; ".join(problems)[:500]
    else:
        ev = evaluate_agent(ctx, child_files)
        calls += ev.calls
        _save_eval(out, record.id, ev)
        record.score, record.solved, record.evaluated, record.stage = ev.score, ev.solved, list(ev.outcomes), ev.stage
        record.reason = _verdict(ev)
        record.status = "failed" if record.reason else "ok"
    record.llm_calls = len(calls)
    archive.add(record, child_files)
    recorder.agent(record, child_files, calls, ctx.provider.name)
    recorder.store.add_event(recorder.info.id, "dgm_iteration", {
        "iteration": it, "parent": parent.id, "child": record.id, "status": record.status, "score": record.score,
        "stage": record.stage, "reason": record.reason, "weights": archive.weights()})
    ctx.say(f"iteration {it}: parent {parent.id} -> {record.id}: {record.status}"
            f"{' score %.2f (stage %d)' % (record.score, record.stage) if record.evaluated else ''}"
            f"{' — ' + record.reason if record.reason else ''}")
