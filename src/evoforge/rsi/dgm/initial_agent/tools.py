"""The agent's tools: read the task's files, apply SEARCH/REPLACE edits, run shell commands."""
import os
import re
import subprocess

EDIT_RE = re.compile(
    r"(?:FILE:\s*(?P<file>[^\n`]+?)\s*\n)?(?:```[a-z]*\n)?<<<<<<< SEARCH\n(?P<search>.*?)\n?=======\n"
    r"(?P<replace>.*?)\n?>>>>>>> REPLACE", re.DOTALL)
BASH_RE = re.compile(r"```(?:bash|sh|shell)\n(.*?)```", re.DOTALL)
MAX_FILE_CHARS = 20000


def list_files(task_dir):
    """Relative paths of the text files under task_dir, sorted."""
    out = []
    for root, dirs, files in os.walk(task_dir):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(files):
            if name.endswith((".py", ".md", ".txt", ".json", ".yaml")):
                out.append(os.path.relpath(os.path.join(root, name), task_dir))
    return out


def read_file(task_dir, rel):
    with open(os.path.join(task_dir, rel), encoding="utf-8") as f:
        return f.read()[:MAX_FILE_CHARS]


def editable_files(task_dir):
    return [p for p in list_files(task_dir) if p.endswith(".py")]


def _replace(text, search, replace):
    """Exact match first, then a match that ignores trailing whitespace on each line."""
    if search and search in text:
        return text.replace(search, replace, 1)
    want = [ln.rstrip() for ln in search.splitlines()]
    lines = text.splitlines(keepends=True)
    for i in range(len(lines) - len(want) + 1):
        if want and [ln.rstrip() for ln in lines[i:i + len(want)]] == want:
            new = replace if replace.endswith("\n") or not replace else replace + "\n"
            return "".join(lines[:i]) + new + "".join(lines[i + len(want):])
    return None


def apply_edits(task_dir, reply):
    """Apply every SEARCH/REPLACE block of the reply; returns one message per edit."""
    notes = []
    default = editable_files(task_dir)
    for m in EDIT_RE.finditer(reply):
        rel = (m.group("file") or "").strip().strip("`'\"") or (default[0] if len(default) == 1 else "")
        if not rel:
            notes.append("edit skipped: say which file with a 'FILE: path' line")
            continue
        path = os.path.join(task_dir, rel)
        if not os.path.isfile(path):
            notes.append(f"edit skipped: no file {rel}")
            continue
        text = read_file(task_dir, rel)
        new = _replace(text, m.group("search"), m.group("replace"))
        if new is None:
            notes.append(f"edit of {rel} failed: the SEARCH text is not in the file")
            continue
        with open(path, "w", encoding="utf-8") as f:
            f.write(new)
        notes.append(f"edited {rel}")
    return notes


def run_commands(task_dir, reply, timeout=20):
    """Run each ```bash block of the reply in task_dir; returns their outputs."""
    outputs = []
    for cmd in BASH_RE.findall(reply)[:3]:
        try:
            p = subprocess.run(cmd, shell=True, cwd=task_dir, capture_output=True, text=True, timeout=timeout)
            out = (p.stdout + p.stderr)[-2000:]
            outputs.append(f"$ {cmd.strip()}\n(exit {p.returncode})\n{out}")
        except subprocess.TimeoutExpired:
            outputs.append(f"$ {cmd.strip()}\n(timed out after {timeout}s)")
    return outputs
