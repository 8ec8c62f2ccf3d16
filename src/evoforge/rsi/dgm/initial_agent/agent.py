"""A small coding agent: reads a task folder, asks the model for edits, applies them, checks them.

Usage: ``python agent.py TASK_DIR``. TASK_DIR holds STATEMENT.md and the files to change. The
agent may be asked to improve any code base, including a copy of its own folder. It logs to
stderr; stdout carries only the model protocol (see llm.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from llm import ModelUnavailable, complete
from tools import apply_edits, list_files, read_file, run_commands

MAX_STEPS = 4
SYSTEM = ("You are a careful Python programmer. You fix bugs and make improvements in small code "
          "bases by editing their files. Change only what the task needs.")
FORMAT = """Reply with edits in this format, one block per change:
FILE: <path>
<<<<<<< SEARCH
<lines copied exactly from the file>
=======
<the new lines>
>>>>>>> REPLACE
You may run a shell command to check your work in a ```bash block. Reply DONE when finished."""


def log(text):
    print(text, file=sys.stderr, flush=True)


def first_prompt(task_dir):
    statement = read_file(task_dir, "STATEMENT.md") if os.path.isfile(os.path.join(task_dir, "STATEMENT.md")) else ""
    parts = [statement.strip(), "Files:"]
    for rel in list_files(task_dir):
        if rel != "STATEMENT.md":
            parts.append(f"FILE: {rel}\n```\n{read_file(task_dir, rel).rstrip()}\n```")
    parts.append(FORMAT)
    return "\n\n".join(parts)


def solve(task_dir):
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": first_prompt(task_dir)}]
    for step in range(MAX_STEPS):
        try:
            reply = complete(messages)
        except ModelUnavailable as exc:
            log(f"step {step}: no model reply ({exc})")
            break
        log(f"step {step}: model replied {len(reply)} characters")
        messages.append({"role": "assistant", "content": reply})
        notes = apply_edits(task_dir, reply) + run_commands(task_dir, reply)
        for note in notes:
            log("  " + note.splitlines()[0])
        if not notes or ("DONE" in reply and not any("failed" in n for n in notes)):
            break
        messages.append({"role": "user", "content": "Results:\n" + "\n\n".join(notes) + "\n\nContinue, or reply DONE."})


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        log("usage: agent.py TASK_DIR")
        return 2
    solve(argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
