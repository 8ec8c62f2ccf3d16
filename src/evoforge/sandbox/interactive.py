"""Interactive evaluation: the candidate queries a hidden function the trusted evaluator holds.

Why: when a candidate computes the objective itself, "run 10,000x longer" looks like progress.
Here the objective (an `oracle`, any callable of the evaluator) never leaves the trusted
process: the candidate sends queries over a pipe, the evaluator answers, counts them, and stops
the candidate at its query budget, so only a better algorithm scores better with the same
number of queries. The candidate never has the oracle's code or data in its process or its
file system (under bwrap the task folder is not even mounted).

Two shapes, one protocol engine:
- Python (`interact`): the candidate's ``function(query, *args, **kwargs)`` receives a callable;
  ``query(x, y)`` sends ``[x, y]`` as JSON (numpy arrays as base64, never pickle) and blocks for
  the answer, which is ``oracle(x, y)`` in the evaluator. The function's return value comes back
  as in `Candidate.call`.
- Programs in any language (`interact_run`): line protocol on stdin/stdout, as in interactive
  contest problems. The program prints ``? QUERY`` (and flushes), reads one answer line; the
  oracle gets the QUERY text and returns a string, a number or a list (sent space-separated).
  ``! ANSWER`` ends the session (its text is the value); so does exiting with code 0.

Bad behaviour ends the session with a `CandidateError` subclass whose `session` keeps what
happened so far (queries, log, output): `QueryBudgetExceeded` (the query after the last allowed
gets a refusal, then the tree is killed), `InvalidQuery` (malformed line, wrong arity, too long,
or the oracle raised `QueryRejected`), `InteractionError` (never queried, died), and
`InteractionTimeout` (stopped answering: wall timeout). The whole process tree is killed
whatever happens, and every read and write has the session's deadline.

Compute is bounded as for `call`/`run`: `cpu_budget_s=` of the session, and what is left of
the evaluation's ``evaluator.cpu_budget_s``, end it with `CandidateBudgetExceeded` (with
`session` attached); `Interaction.cost` and `candidate.last_cost` say what it cost. The time
the oracle takes is wall time of the session (the timeout) but never the candidate's CPU.
"""
from __future__ import annotations

import inspect
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from evoforge.sandbox import _call_worker, _interactive_worker
from evoforge.sandbox._interactive_process import Outcome, SessionEnd, converse
from evoforge.sandbox.candidate import CandidateError, CandidateTimeout
from evoforge.sandbox.cost import NO_COST, CallCost, check_cpu_budget

if TYPE_CHECKING:
    from evoforge.sandbox.candidate import Candidate

Oracle = Callable[..., Any]
DEFAULT_MAX_QUERY_BYTES = 64 << 10
_DONE = b'{"done":'


class QueryRejected(Exception):
    """Raise it in an oracle to refuse a query as invalid (out of the domain, wrong type);
    the session ends with `InvalidQuery` and the message as its reason."""


@dataclass
class Interaction:
    """What one interactive session did: the value, every query with its answer, why it
    stopped ("returned", "answered", "exited", or the error's reason), and what the
    candidate's process tree cost (`cost`: wall, CPU, peak memory, measured from outside).

    `log` holds one (query, answer) pair per answered query: the query is the argument of
    ``f(...)``, or the tuple of its arguments when there are several (a text line for
    programs); `queries` also counts a last query that was rejected as invalid."""

    value: Any = None
    queries: int = 0
    log: list[tuple[Any, Any]] = field(default_factory=list)
    stopped: str = ""
    seconds: float = 0.0
    cpu_seconds: float | None = None
    cost: CallCost = NO_COST
    returncode: int | None = None
    stdout: str = ""
    stderr: str = ""

    @property
    def answers(self) -> list[Any]:
        return [answer for _, answer in self.log]


class InteractionError(CandidateError):
    """The session failed; `session` is the `Interaction` up to the failure."""

    def __init__(self, summary: str, *, session: Interaction, **kwargs: Any) -> None:
        super().__init__(summary, **kwargs)
        self.session = session


class QueryBudgetExceeded(InteractionError):
    """The candidate asked for more queries than `max_queries`."""


class InvalidQuery(InteractionError):
    """A malformed or rejected query (see `QueryRejected`)."""


class InteractionTimeout(CandidateTimeout):
    """The candidate stopped answering: the wall-clock timeout killed its whole tree."""

    def __init__(self, summary: str, *, session: Interaction, timeout: float, **kwargs: Any) -> None:
        super().__init__(summary, timeout=timeout, **kwargs)
        self.session = session


class _Session:
    """Counts queries, enforces the budget, asks the oracle, keeps the log."""

    def __init__(self, oracle: Oracle, max_queries: int, where: str) -> None:
        self.oracle = oracle
        self.max_queries = max_queries
        self.where = where
        self.record = Interaction()
        try:
            self.signature: inspect.Signature | None = inspect.signature(oracle)
        except (TypeError, ValueError):
            self.signature = None

    def fail(self, cls: type[InteractionError], summary: str) -> InteractionError:
        self.record.stopped = summary
        return cls(summary, session=self.record, function=self.where)

    def ask(self, args: list[Any], shown: str) -> Any:
        rec = self.record
        rec.queries += 1
        if rec.queries > self.max_queries:
            rec.queries = self.max_queries  # the refused one was not answered
            raise self.fail(QueryBudgetExceeded, f"candidate exceeded its query budget "
                            f"({self.max_queries + 1} > {self.max_queries}) in {self.where}")
        if self.signature is not None:
            try:
                self.signature.bind(*args)
            except TypeError as exc:
                raise self.fail(InvalidQuery, f"candidate sent an invalid query #{rec.queries} "
                                f"{shown}: {exc} in {self.where}") from None
        try:
            answer = self.oracle(*args)
        except QueryRejected as exc:
            raise self.fail(InvalidQuery, f"candidate sent an invalid query #{rec.queries} "
                            f"{shown}: {exc} in {self.where}") from None
        rec.log.append((args[0] if len(args) == 1 else tuple(args), answer))
        return answer


def _shown(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


class _PythonChannel:
    """The JSON-lines conversation with `_interactive_worker.py`."""

    def __init__(self, session: _Session, max_query_bytes: int) -> None:
        self.session = session
        self.max_query_bytes = max_query_bytes
        self.response: dict[str, Any] | None = None

    def limit(self, pending: bytes, max_result: int) -> int:
        return max_result + 64 if pending.startswith(_DONE) else self.max_query_bytes

    def on_line(self, line: bytes) -> bytes:
        s = self.session
        if line.startswith(_DONE):
            try:
                message = json.loads(line)
                response = message["done"]
                if not isinstance(response, dict):
                    raise ValueError("not an object")
            except Exception as exc:  # noqa: BLE001 - written by untrusted code
                raise s.fail(InteractionError, f"the candidate process sent a corrupt answer "
                             f"for {s.where}: {type(exc).__name__}: {exc}"[:500]) from None
            self.response = response
            raise SessionEnd
        if len(line) > self.max_query_bytes:
            raise s.fail(InvalidQuery, f"candidate sent a query longer than "
                         f"{self.max_query_bytes} bytes in {s.where}")
        try:
            message = json.loads(line)
            if not isinstance(message, dict) or set(message) != {"q"} or not isinstance(
                    message["q"], list):
                raise ValueError('expected {"q": [arguments]}')
            args = [_call_worker.decode(a) for a in message["q"]]
        except Exception as exc:  # noqa: BLE001 - malformed on purpose or by accident
            raise s.fail(InvalidQuery, f"candidate sent a malformed query "
                         f"#{s.record.queries + 1} ({type(exc).__name__}: {exc})"[:300]
                         + f" in {s.where}") from None
        answer = s.ask(args, _shown(", ".join(map(repr, args))))
        try:
            encoded = _call_worker.encode(answer, "the oracle's answer")
        except _call_worker.EncodeError as exc:
            raise TypeError(f"the oracle returned something that is not plain data: {exc}") from None
        return _call_worker.dumps({"a": encoded}) + b"\n"

    def refusal(self, exc: BaseException) -> bytes | None:
        if not isinstance(exc, (QueryBudgetExceeded, InvalidQuery)):
            return None
        return _call_worker.dumps({"refused": exc.summary}) + b"\n"


class _LineChannel:
    """The `? query` / `! answer` text protocol of programs in any language."""

    def __init__(self, session: _Session, max_query_bytes: int) -> None:
        self.session = session
        self.max_query_bytes = max_query_bytes
        self.lines = 0

    def limit(self, pending: bytes, max_result: int) -> int:
        return self.max_query_bytes

    def on_line(self, raw: bytes) -> bytes:
        s = self.session
        self.lines += 1
        if len(raw) > self.max_query_bytes:
            raise s.fail(InvalidQuery, f"candidate printed a line longer than "
                         f"{self.max_query_bytes} bytes (line {self.lines}) in {s.where}")
        try:
            line = raw.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            raise s.fail(InvalidQuery, f"candidate printed a line that is not UTF-8 text "
                         f"(line {self.lines}) in {s.where}") from None
        text = line.strip()
        if not text:
            return b""
        if text.startswith("!"):
            s.record.value = text[1:].strip()
            raise SessionEnd
        if not text.startswith("?"):
            raise s.fail(InvalidQuery, f"candidate printed line {self.lines} {_shown(text)!r}, "
                         f"which is neither a query ('? ...') nor the answer ('! ...'), "
                         f"in {s.where}")
        query = text[1:].strip()
        return (_format_answer(s.ask([query], repr(_shown(query)))) + "\n").encode("utf-8")

    def refusal(self, exc: BaseException) -> bytes | None:
        if not isinstance(exc, (QueryBudgetExceeded, InvalidQuery)):
            return None
        return f"! refused: {exc.summary}\n".encode("utf-8")


def _format_answer(answer: Any) -> str:
    if isinstance(answer, bool):
        answer = int(answer)
    if isinstance(answer, (list, tuple)):
        text = " ".join(str(int(a) if isinstance(a, bool) else a) for a in answer)
    else:
        text = str(answer)
    if "\n" in text or "\r" in text:
        raise ValueError("an oracle answer for a line protocol must be one line")
    return text


def _account(cand: "Candidate", out: Outcome, rec: Interaction) -> None:
    """The candidate's usual bookkeeping (what `evaluate_code` reports), and the session's."""
    cand.last_stdout, cand.last_stderr = out.stdout, out.stderr
    if out.limit_exceeded:
        cand.last_stderr += f"\n[evoforge sandbox] {out.limit_exceeded}\n"
    cand.last_seconds = out.seconds
    cand.total_seconds += out.seconds
    cand.n_calls += 1
    peak = out.peak_memory_bytes
    cand.last_cost = CallCost(wall_s=out.seconds, cpu_s=out.cpu_seconds or 0.0,
                              peak_memory_mb=peak / (1 << 20) if peak else None)
    cand.total_cost = cand.total_cost + cand.last_cost
    rec.cost = cand.last_cost
    rec.seconds, rec.cpu_seconds = out.seconds, out.cpu_seconds
    rec.returncode, rec.stdout, rec.stderr = out.returncode, out.stdout, cand.last_stderr


def _run(cand: "Candidate", argv: list[str], channel: "_PythonChannel | _LineChannel",
         cpu_budget_s: float | None, **kwargs: Any) -> Outcome:
    """Converse, account for the cost, and raise the session's verdict. The CPU budget is the
    call's own or what is left of the evaluation's (`evaluator.cpu_budget_s`), exactly as for
    `call`/`run`, so an interactive session cannot spend more than any other call."""
    what = channel.session.where
    budget, scope = cand._budget_for(check_cpu_budget(cpu_budget_s))
    if budget is not None and budget <= 0:
        raise cand._over_budget(f"{what} was not started: the evaluation's calls already",
                                cand.total_cost.cpu_s, cand.cpu_budget_s or 0.0, scope,
                                killed=False)
    out = converse(cand, argv, channel, cpu_budget_s=budget, **kwargs)
    rec = channel.session.record
    _account(cand, out, rec)
    if budget is not None and rec.cost.cpu_s > budget:
        exc = cand._over_budget(what, rec.cost.cpu_s, budget, scope)
        rec.stopped = exc.summary
        exc.session = rec  # type: ignore[attr-defined]  # nothing lost: what it did so far
        raise exc
    if out.stop is not None:
        raise out.stop
    return out


def _ended_early(session: _Session, out: Outcome, timeout: float) -> BaseException | None:
    """The error for a session that did not end properly, else None."""
    where, rec = session.where, session.record
    after = f" after {rec.queries} quer{'y' if rec.queries == 1 else 'ies'}"
    ctx = {"function": where, "stdout": out.stdout, "stderr": rec.stderr}
    if out.timed_out:
        rec.stopped = (f"candidate stopped answering: timed out after {timeout:.1f}s in "
                       f"{where}{after}")
        return InteractionTimeout(rec.stopped, session=rec, timeout=timeout, **ctx)
    if out.limit_exceeded:
        rec.stopped = f"{out.limit_exceeded} in {where}{after}"
        return InteractionError(rec.stopped, session=rec, **ctx)
    return None


def _died(session: _Session, out: Outcome, cand: "Candidate") -> InteractionError:
    from evoforge.sandbox.isolation import IsolationLevel

    rec, rc = session.record, out.returncode
    if rc > 128 and rc - 128 < 65 and cand.isolation != IsolationLevel.NONE:
        rc = -(rc - 128)  # bwrap/unshare report a child killed by signal N as 128 + N
    if rc < 0:
        import signal

        try:
            how = f"died with {signal.Signals(-rc).name}"
        except ValueError:
            how = f"died with signal {-rc}"
    else:
        how = f"exited with code {rc}"
    summary = (f"candidate process {how} in {session.where} after {rec.queries} "
               f"quer{'y' if rec.queries == 1 else 'ies'}")
    tail = rec.stderr.strip().splitlines()[-1:] if rec.stderr.strip() else []
    if tail:
        summary += ": " + tail[0][-300:]
    rec.stopped = summary
    return InteractionError(summary, session=rec, function=session.where, stdout=out.stdout,
                            stderr=rec.stderr)


def _check_min(session: _Session, min_queries: int) -> None:
    rec = session.record
    if rec.queries >= min_queries:
        return
    if rec.queries == 0:
        summary = f"candidate never queried the oracle in {session.where}"
    else:
        summary = (f"candidate made only {rec.queries} queries in {session.where} "
                   f"(at least {min_queries} required)")
    raise session.fail(InteractionError, summary)


def _check_budget(max_queries: int, min_queries: int) -> None:
    if not isinstance(max_queries, int) or max_queries < 1:
        raise ValueError(f"max_queries must be a positive integer, got {max_queries!r}")
    if min_queries < 0 or min_queries > max_queries:
        raise ValueError(f"min_queries must be in 0..max_queries, got {min_queries!r}")


# -- the public entry points ------------------------------------------------------------------
def interact(cand: "Candidate", function: str, oracle: Oracle, *args: Any, max_queries: int,
             timeout: float = 60, min_queries: int = 1, cpu_budget_s: float | None = None,
             max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES, **kwargs: Any) -> Interaction:
    """Run ``function(query, *args, **kwargs)`` of a Python candidate; each ``query(...)``
    there is answered by ``oracle(...)`` here, at most `max_queries` times (and at least
    `min_queries`, else the session is an error). `timeout` is wall seconds for the whole
    session; `cpu_budget_s` the CPU its process tree may use. See the module docstring;
    `Candidate.interact` is the same call."""
    if cand.language != "python":
        raise TypeError(f"interact() runs Python programs; this candidate is {cand.language}: "
                        "use candidate.interact_run([...], oracle, ...) instead")
    if not isinstance(function, str) or not function.isidentifier():
        raise ValueError(f"function must be a Python identifier, got {function!r}")
    _check_budget(max_queries, min_queries)
    try:
        request = _call_worker.dumps({"call": {
            "function": function, "args": _call_worker.encode(list(args), "args"),
            "kwargs": _call_worker.encode(kwargs, "kwargs")}}) + b"\n"
    except _call_worker.EncodeError as exc:
        raise TypeError(f"cannot send arguments to the candidate: {exc}") from None
    worker = cand.runtime_dir / "evoforge_interactive_worker.py"
    if not worker.exists():
        shutil.copyfile(_interactive_worker.__file__, worker)
    codec = cand.runtime_dir / "evoforge_call_worker.py"
    if not codec.exists():
        shutil.copyfile(_call_worker.__file__, codec)
    session = _Session(oracle, max_queries, f"{function}()")
    channel = _PythonChannel(session, max_query_bytes)
    argv = [sys.executable, "-B", str(worker), str(codec), cand.import_target, "{up_fd}",
            "{down_fd}"]
    out = _run(cand, argv, channel, cpu_budget_s, timeout=timeout, first=request, python=True)
    rec = session.record
    if not out.finished:
        raise _ended_early(session, out, timeout) or _died(session, out, cand)
    response = channel.response or {}
    if response.get("ok") is not True:
        from evoforge.sandbox.candidate import Candidate

        error = response.get("error")
        ctx = {"function": function, "stdout": out.stdout, "stderr": rec.stderr}
        base = Candidate._error_from(error if isinstance(error, dict) else {}, function, ctx)
        rec.stopped = base.summary
        raise InteractionError(base.summary, session=rec, exc_type=base.exc_type,
                               lineno=base.lineno, traceback=base.traceback, **ctx)
    try:
        rec.value = _call_worker.decode(response.get("value"))
    except Exception as exc:  # noqa: BLE001 - written by untrusted code
        raise session.fail(InteractionError, f"the candidate process sent a corrupt answer "
                           f"for {function}(): {type(exc).__name__}: {exc}"[:500]) from None
    rec.stopped = "returned"
    _check_min(session, min_queries)
    return rec


def interact_run(cand: "Candidate", argv: list[str], oracle: Oracle, *, max_queries: int,
                 timeout: float = 60, min_queries: int = 1, stdin: str | bytes | None = None,
                 cpu_budget_s: float | None = None, max_query_bytes: int = DEFAULT_MAX_QUERY_BYTES) -> Interaction:
    """Run a command (any language) that talks the line protocol: it prints ``? QUERY`` and
    reads ``oracle(QUERY)`` as one line; ``! ANSWER`` (or exit code 0) ends it. `stdin`, when
    given, is sent first (the public part of the instance). `{program}` in argv is replaced
    by the candidate's path. Remember: the program must flush its output after each query."""
    if isinstance(argv, str):
        raise TypeError("argv must be a list of strings, e.g. ['./{program}']")
    _check_budget(max_queries, min_queries)
    argv = [str(a).replace("{program}", str(cand.path)) for a in argv]
    first = stdin.encode("utf-8") if isinstance(stdin, str) else (stdin or b"")
    session = _Session(oracle, max_queries, f"{os.path.basename(argv[0])}")
    channel = _LineChannel(session, max_query_bytes)
    out = _run(cand, argv, channel, cpu_budget_s, timeout=timeout, first=first, python=False)
    rec = session.record
    if not out.finished:
        early = _ended_early(session, out, timeout)
        if early is not None:
            raise early
        if out.returncode != 0:
            raise _died(session, out, cand)
        rec.stopped = "exited"
    else:
        rec.stopped = "answered"
    _check_min(session, min_queries)
    return rec
