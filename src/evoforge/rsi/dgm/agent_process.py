"""Run an agent folder in the sandbox, with the trusted process as its only route to a model.

Layout inside the sandbox (a fresh private directory, the only writable place):

    work/agent/   the agent's code (it may be asked to improve a *copy* of it, never this one)
    work/task/    STATEMENT.md and the files to change; nothing else (no hidden tests, no logs)

The agent has no network and no API keys. It asks for a completion by printing one line
``@@evoforge {json}`` to stdout; this process makes the call with a provider from
`evoforge.llm.registry`, refuses calls beyond the budget, records each one, and writes one JSON
reply line to the agent's stdin. Whatever else the agent prints is kept only as its log: the
score is computed elsewhere from hidden tests, never from anything the agent says.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...sandbox.isolation import IsolationLevel, clean_env, wrap_command
from ...sandbox.limits import SandboxLimits, make_preexec, rlimits_for

PREFIX = b"@@evoforge "
MAX_LINE = 2_000_000
MAX_PROMPT_CHARS = 200_000
MAX_FILE_BYTES = 256 * 1024
LOG_LIMIT = 64 * 1024


@dataclass
class AgentRun:
    """What one agent process did: its task folder afterwards, its log and its model calls."""

    files: dict[str, str]
    returncode: int
    timed_out: bool
    seconds: float
    log: str
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def crashed(self) -> bool:
        return self.returncode != 0 and not self.timed_out


def write_tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise ValueError(f"bad file name {rel!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def read_tree(root: Path) -> dict[str, str]:
    """Regular text files under `root` (symlinks and large or binary files are ignored)."""
    out: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = [d for d in dirnames if d != "__pycache__"]
        for name in filenames:
            path = Path(dirpath) / name
            try:
                st = path.lstat()
                if not path.is_file() or path.is_symlink() or st.st_size > MAX_FILE_BYTES:
                    continue
                out[str(path.relative_to(root))] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return dict(sorted(out.items()))


def _remove_tree(path: Path) -> None:
    """rmtree that also copes with folders the agent made unreadable."""
    def fix(func: Any, target: str, _exc: Any) -> None:
        try:
            os.chmod(os.path.dirname(target), stat.S_IRWXU)
            os.chmod(target, stat.S_IRWXU)
            func(target)
        except OSError:
            pass

    shutil.rmtree(path, onerror=fix)


class _Log:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.size = 0
        self.lock = threading.Lock()

    def add(self, text: str) -> None:
        with self.lock:
            self.parts.append(text)
            self.size += len(text)
            while self.size > LOG_LIMIT and len(self.parts) > 1:
                self.size -= len(self.parts.pop(0))

    def text(self) -> str:
        with self.lock:
            return "".join(self.parts)[-LOG_LIMIT:]


def _pump_stdout(stream: Any, lines: queue.Queue[bytes | None]) -> None:
    try:
        while True:
            line = stream.readline(MAX_LINE)
            if not line:
                break
            lines.put(line)
    finally:
        lines.put(None)


def _pump_stderr(stream: Any, log: _Log) -> None:
    while True:
        chunk = stream.read1(65536) if hasattr(stream, "read1") else stream.read(65536)
        if not chunk:
            break
        log.add(chunk.decode("utf-8", errors="replace"))


def _answer(request: bytes, provider: Any, calls: list[dict[str, Any]], max_calls: int, max_tokens: int) -> dict[str, Any]:
    from ...llm.base import LLMError

    try:
        body = json.loads(request)
        messages = body["messages"]
        if not isinstance(messages, list) or not all(
                isinstance(m, dict) and m.get("role") in ("system", "user", "assistant") and isinstance(m.get("content"), str)
                for m in messages):
            raise ValueError("messages must be a list of {role, content} dicts")
        if sum(len(m["content"]) for m in messages) > MAX_PROMPT_CHARS:
            raise ValueError(f"prompt longer than {MAX_PROMPT_CHARS} characters")
    except (ValueError, KeyError, TypeError) as exc:
        return {"ok": False, "error": f"bad request: {exc}"}
    if len(calls) >= max_calls:
        return {"ok": False, "error": f"the model-call budget of this run ({max_calls}) is spent"}
    temperature = body.get("temperature", 0.2)
    temperature = min(1.5, max(0.0, float(temperature))) if isinstance(temperature, (int, float)) else 0.2
    started = time.monotonic()
    try:
        resp = provider.complete(messages, temperature=temperature,
                                 max_tokens=min(max_tokens, int(body.get("max_tokens") or max_tokens)))
    except LLMError as exc:
        calls.append({"model": provider.name, "error": f"{exc.kind}: {exc}", "latency_s": time.monotonic() - started})
        return {"ok": False, "error": f"model call failed: {exc}"}
    calls.append({"model": provider.name, "input_tokens": resp.input_tokens, "output_tokens": resp.output_tokens,
                  "latency_s": resp.latency_s or time.monotonic() - started,
                  "cost_usd": float(getattr(resp, "cost_usd", 0.0) or 0.0)})
    return {"ok": True, "text": resp.text or ""}


def run_agent(agent_files: dict[str, str], task_files: dict[str, str], *, provider: Any, level: IsolationLevel,
              max_calls: int, timeout: float, max_tokens: int = 768, memory_mb: int = 2048) -> AgentRun:
    """Run ``python agent/agent.py task`` in a fresh sandbox (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="evoforge-dgm-"))
    os.chmod(root, 0o700)
    work = root / "work"
    try:
        write_tree(work / "agent", agent_files)
        write_tree(work / "task", task_files)
        argv = [sys.executable, "-B", "-u", "agent/agent.py", "task"]
        wrapped = wrap_command(level, argv, work_dir=str(work))
        limits = SandboxLimits(memory_mb=memory_mb, max_processes=64, file_size_mb=64)
        preexec = make_preexec(rlimits_for(limits, timeout, pids_by_cgroup=False))
        log = _Log()
        calls: list[dict[str, Any]] = []
        started = time.monotonic()
        proc = subprocess.Popen(wrapped, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                cwd=str(work), env=clean_env(str(work)), preexec_fn=preexec, start_new_session=True)
        lines: queue.Queue[bytes | None] = queue.Queue()
        threads = [threading.Thread(target=_pump_stdout, args=(proc.stdout, lines), daemon=True),
                   threading.Thread(target=_pump_stderr, args=(proc.stderr, log), daemon=True)]
        for t in threads:
            t.start()
        timed_out = False
        try:
            while True:
                left = timeout - (time.monotonic() - started)
                if left <= 0:
                    timed_out = True
                    break
                try:
                    line = lines.get(timeout=min(left, 0.5))
                except queue.Empty:
                    continue
                if line is None:
                    break
                if not line.startswith(PREFIX):
                    log.add(line.decode("utf-8", errors="replace"))
                    continue
                answer = _answer(line[len(PREFIX):], provider, calls, max_calls, max_tokens)
                try:
                    assert proc.stdin is not None
                    proc.stdin.write((json.dumps(answer) + "\n").encode())
                    proc.stdin.flush()
                except (BrokenPipeError, OSError):
                    pass
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL) if timed_out else None
            except (ProcessLookupError, PermissionError):
                pass
            try:
                returncode = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                returncode = proc.wait()
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # anything the agent left running
            except (ProcessLookupError, PermissionError):
                pass
            for t in threads:
                t.join(timeout=2)
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                try:
                    stream.close() if stream is not None else None
                except OSError:
                    pass
        if timed_out:
            log.add(f"\n[evoforge: the agent was killed after {timeout:.0f}s]\n")
        return AgentRun(read_tree(work / "task"), returncode, timed_out, time.monotonic() - started, log.text(), calls)
    finally:
        _remove_tree(root)
