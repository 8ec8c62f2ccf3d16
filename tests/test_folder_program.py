"""Folder programs (`program: src/`): loading a task, and the rules every child must keep.

Every bad input a user (or a model's edit) can give is here with the error it gets: an unknown
key in program_limits, a folder with no block, a binary file, a symlink, too many files or bytes,
a Python file that does not parse, a file outside the folder, a frozen file changed."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

from evoforge.bundle import BundleError, pack, unpack
from evoforge.bundle_rules import child_violation, syntax_error
from evoforge.engine.proposer import ChildDraft, ParentView, finish_checks, operator_child
from evoforge.errors import ConfigError, TaskError
from evoforge.program import AttemptStatus
from evoforge.task import load_task

EVALUATE = "from evoforge import Result\n\ndef evaluate(candidate):\n    return Result(score=candidate.call('solve'))\n"
HEURISTIC = "# EVOLVE-BLOCK-START\nWEIGHT = 2\n# EVOLVE-BLOCK-END\n"
MAIN = "from solver.heuristic import WEIGHT\n\n\ndef solve():\n    return WEIGHT\n"


def make_task(tmp_path: Path, files: dict[str, str | bytes] | None = None, yaml: str = "") -> Path:
    root = tmp_path / "task"
    src = root / "src"
    src.mkdir(parents=True)
    files = {"solver/__init__.py": "", "solver/main.py": MAIN, "solver/heuristic.py": HEURISTIC} if files is None else files
    for path, text in files.items():
        target = src / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text if isinstance(text, bytes) else text.encode())
    (root / "task.yaml").write_text("name: folder\nprogram: src\nentry: solver.main\n" + yaml)
    (root / "evaluate.py").write_text(EVALUATE)
    return root


def test_a_folder_program_loads_as_a_bundle_of_its_files(tmp_path):
    task = load_task(make_task(tmp_path))
    assert task.is_folder
    assert unpack(task.initial_code) == {"solver/__init__.py": "", "solver/heuristic.py": HEURISTIC, "solver/main.py": MAIN}
    assert task.config.entry == "solver.main"


def test_unknown_program_limits_key_names_the_nearest(tmp_path):
    with pytest.raises(ConfigError, match=r"program_limits.max_file'; did you mean 'max_files'"):
        load_task(make_task(tmp_path, yaml="program_limits: {max_file: 3}\n"))


def test_nonpositive_limit_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"program_limits.max_bytes: must be > 0"):
        load_task(make_task(tmp_path, yaml="program_limits: {max_bytes: 0}\n"))


def test_folder_with_no_block_is_refused(tmp_path):
    with pytest.raises(TaskError, match="no file of the program folder has an EVOLVE-BLOCK-START"):
        load_task(make_task(tmp_path, {"main.py": "def solve():\n    return 1\n"}, yaml=""))


def test_binary_file_is_refused(tmp_path):
    files = {"solver/main.py": MAIN, "solver/heuristic.py": HEURISTIC, "solver/data.bin": b"\x00\x01\x02"}
    with pytest.raises(TaskError, match=r"data.bin: binary file"):
        load_task(make_task(tmp_path, files))


def test_non_utf8_file_is_refused(tmp_path):
    files = {"solver/main.py": MAIN, "solver/heuristic.py": HEURISTIC, "solver/notes.txt": "café".encode("latin-1")}
    with pytest.raises(TaskError, match=r"notes.txt: not UTF-8"):
        load_task(make_task(tmp_path, files))


def test_symlink_is_refused(tmp_path):
    root = make_task(tmp_path)
    os.symlink(root / "evaluate.py", root / "src" / "solver" / "peek.py")
    with pytest.raises(TaskError, match=r"peek.py: symbolic links are not allowed"):
        load_task(root)


def test_too_many_files_and_too_many_bytes(tmp_path):
    with pytest.raises(TaskError, match=r"more than 2 files \(raise program_limits.max_files"):
        load_task(make_task(tmp_path / "a", yaml="program_limits: {max_files: 2}\n"))
    with pytest.raises(TaskError, match=r"more than 50 bytes in all \(raise program_limits.max_bytes"):
        load_task(make_task(tmp_path / "b", yaml="program_limits: {max_bytes: 50}\n"))


def test_python_file_that_does_not_parse_names_file_and_line(tmp_path):
    files = {"solver/main.py": MAIN, "solver/heuristic.py": HEURISTIC, "solver/broken.py": "x = 1\ndef f(:\n"}
    with pytest.raises(TaskError, match=r"src/solver/broken.py:2: .*does not parse"):
        load_task(make_task(tmp_path, files))


def test_unbalanced_marker_names_the_file(tmp_path):
    files = {"solver/main.py": MAIN, "solver/heuristic.py": "# EVOLVE-BLOCK-START\nW = 2\n"}
    with pytest.raises(TaskError, match=r"solver/heuristic.py: EVOLVE-BLOCK-START at line 1 is never closed"):
        load_task(make_task(tmp_path, files))


def test_entry_must_be_a_module_of_the_folder(tmp_path):
    root = make_task(tmp_path)
    (root / "task.yaml").write_text("program: src\nentry: solver.missing\n")
    with pytest.raises(TaskError, match=r"entry: 'solver.missing' is no module of .*solver/missing.py"):
        load_task(root)
    (root / "task.yaml").write_text("program: src\nentry: 'solver/main.py'\n")
    with pytest.raises(ConfigError, match=r"entry: 'solver/main.py' is not a module name"):
        load_task(root)


def test_entry_on_a_single_file_program_is_refused(tmp_path):
    root = tmp_path / "one"
    root.mkdir()
    (root / "initial.py").write_text("# EVOLVE-BLOCK-START\ndef solve():\n    return 1\n# EVOLVE-BLOCK-END\n")
    (root / "evaluate.py").write_text(EVALUATE)
    (root / "task.yaml").write_text("entry: initial\n")
    with pytest.raises(TaskError, match="entry: names a module of a folder program"):
        load_task(root)


def test_the_task_folder_itself_cannot_be_the_program(tmp_path):
    root = make_task(tmp_path)
    (root / "task.yaml").write_text("program: .\n")
    with pytest.raises(TaskError, match="is the task folder .* would see evaluate.py"):
        load_task(root)


# -- the rules a child keeps -------------------------------------------------------------------
PARENT = pack({"harness.py": "def run(f):\n    return f()\n", "solver/heuristic.py": HEURISTIC,
               "solver/main.py": "import os\n# EVOLVE-BLOCK-START\nK = 1\n# EVOLVE-BLOCK-END\nprint(K)\n"})


def _edited(path: str, text: str) -> str:
    files = unpack(PARENT)
    files[path] = text
    return pack(files)


def test_an_edit_inside_blocks_is_accepted():
    child = _edited("solver/heuristic.py", HEURISTIC.replace("2", "3"))
    assert child_violation(PARENT, child) is None
    draft = finish_checks(ChildDraft(child), PARENT, "python")
    assert draft.status is AttemptStatus.PENDING and draft.code == child


@pytest.mark.parametrize("child, reason", [
    (_edited("harness.py", "def run(f):\n    return 42\n"), "changes harness.py, which has no EVOLVE-BLOCK (frozen"),
    (_edited("solver/main.py", "import sys\n# EVOLVE-BLOCK-START\nK = 1\n# EVOLVE-BLOCK-END\nprint(K)\n"),
     "changes solver/main.py outside its EVOLVE-BLOCKs"),
    (_edited("solver/extra.py", "X = 1\n"), "adds file(s) solver/extra.py"),
    (pack({k: v for k, v in unpack(PARENT).items() if k != "harness.py"}), "removes file(s) harness.py"),
    ("=== evoforge-file: ../x ===\nX = 1\n", "not a well-formed folder program: file path '../x'"),
    ("x = 1\n", "not a well-formed folder program"),
])
def test_a_child_that_breaks_the_folder_rules_is_apply_failed(child, reason):
    assert reason in child_violation(PARENT, child)
    draft = finish_checks(ChildDraft(child), PARENT, "python")
    assert draft.status is AttemptStatus.APPLY_FAILED and reason in draft.reason


def test_a_file_outside_the_folder_is_never_written():
    with pytest.raises(BundleError, match="outside the folder"):
        pack({"../x.py": "X = 1\n"})


def test_syntax_is_checked_per_file_in_its_language():
    child = _edited("solver/heuristic.py", "# EVOLVE-BLOCK-START\nWEIGHT = (\n# EVOLVE-BLOCK-END\n")
    assert syntax_error(child, "python").startswith("solver/heuristic.py line 2")
    draft = finish_checks(ChildDraft(child), PARENT, "python")
    assert draft.status is AttemptStatus.SYNTAX_ERROR and "solver/heuristic.py" in draft.reason
    c_program = pack({"a.c": "// EVOLVE-BLOCK-START\nint f(void) { return 1; }\n// EVOLVE-BLOCK-END\n",
                      "notes.txt": "not code ( at all"})
    assert syntax_error(c_program, "python") is None   # a .txt file is not checked; the .c file balances


def test_zero_cost_operators_never_break_the_rules():
    """Whatever an operator does to a bundle, what comes out has passed the rules (or is refused
    with a reason): frozen files and outside text are never changed in a surviving child."""
    parent = ParentView("p", PARENT, 1.0)
    rng = random.Random(0)
    for kind in ("perturb", "swap", "duplicate", "delete"):
        for _ in range(10):
            draft = operator_child(kind, parent, None, rng, "python")
            if draft.status is AttemptStatus.PENDING:
                assert child_violation(PARENT, draft.code) is None
            else:
                assert draft.reason


def test_the_safety_lint_checks_each_python_file_of_a_bundle():
    from evoforge.safety import lint_new_findings

    parent = pack({"harness.py": "import ctypes\n", "solver/h.py": HEURISTIC, "notes.txt": "import ctypes\n"})
    child = pack({"harness.py": "import ctypes\n", "solver/h.py": HEURISTIC.replace("WEIGHT = 2", "import ctypes\nWEIGHT = 2"),
                  "notes.txt": "import ctypes\n"})
    findings = [str(f) for f in lint_new_findings(child, parent)]
    # the task's own harness finding is trusted, a .txt file is not Python: only the new one, with its file
    assert findings == ["solver/h.py line 2: [ctypes] imports ctypes"]


def test_best_out_writes_a_one_file_program_as_its_file(tmp_path):
    from evoforge.bundle import write_best

    assert write_best("x = 1\n", tmp_path / "out", "src/initial.py") == [tmp_path / "out" / "initial.py"]
    with pytest.raises(BundleError, match="not an empty folder"):
        write_best("x = 2\n", tmp_path / "out")
    assert (tmp_path / "out" / "initial.py").read_text() == "x = 1\n"   # nothing overwritten


def test_a_c_folder_program_builds_with_the_task_command_and_runs(tmp_path):
    """Files in another language follow their extension (// markers, brace check), and the task's
    build: command reaches the sandbox through the engine's request (request_for -> executor)."""
    from evoforge.executors.base import request_for
    from evoforge.executors.local import LocalExecutor

    root = make_task(tmp_path, {
        "main.c": '#include <stdio.h>\nint heuristic(int);\nint main(void) { printf("%d\\n", heuristic(20)); return 0; }\n',
        "heuristic.c": "// EVOLVE-BLOCK-START\nint heuristic(int x) { return x + 1; }\n// EVOLVE-BLOCK-END\n",
        "Makefile.txt": "not parsed: a text file",
    })
    (root / "task.yaml").write_text("program: src\nlanguage: c\nbuild: [cc, -O1, -o, solver, main.c, heuristic.c]\n")
    (root / "evaluate.py").write_text(
        "from evoforge import Result\n\n"
        "def evaluate(candidate):\n    candidate.build(timeout=60)\n"
        "    out = candidate.run(['./solver'], timeout=30)\n    return Result(score=float(out.stdout))\n")
    task = load_task(root)
    assert task.config.build == ["cc", "-O1", "-o", "solver", "main.c", "heuristic.c"]
    ev = LocalExecutor().evaluate(request_for(task, task.initial_code))
    assert ev.status == "ok", ev.reason
    assert ev.result.score == 21.0
    broken = task.initial_code.replace("return x + 1; }", "return x + 1;")   # an unbalanced brace
    assert syntax_error(broken, "c").startswith("heuristic.c ")
    bad_build = task.initial_code.replace("return x + 1;", "return x + undefined_name;")
    ev = LocalExecutor().evaluate(request_for(task, bad_build))
    assert ev.status == "error" and "build command" in ev.reason and "undefined_name" in ev.reason
