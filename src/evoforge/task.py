"""A task is a folder: ``task.yaml``, the initial program and a trusted ``evaluate.py``.

Loading checks everything that can be checked without running user code, so that a broken
task folder fails at start with a message that says what to fix, never halfway into a run.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .config import Config, load_config
from .errors import ConfigError, TaskError


@dataclass
class Task:
    """A loaded, checked task folder."""

    path: Path
    config: Config
    initial_code: str   # the program's text; a folder program's files packed into one bundle (evoforge.bundle)

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def evaluator_path(self) -> Path:
        return self.path / "evaluate.py"

    @property
    def is_folder(self) -> bool:
        """True when the program is a folder of files (its code is a bundle)."""
        from .bundle import is_bundle

        return is_bundle(self.initial_code)

    @property
    def maximize(self) -> bool:
        return self.config.direction == "maximize"


def read_task_yaml(path: Path) -> dict[str, Any]:
    """Read ``task.yaml`` into a mapping, with errors that name the file and line."""
    file = path / "task.yaml"
    if not file.is_file():
        raise TaskError(f"{path}: no task.yaml (a task folder holds task.yaml, the initial program and evaluate.py)")
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise TaskError(f"{file}: not valid YAML: {exc}") from None
    except UnicodeDecodeError:
        raise TaskError(f"{file}: not UTF-8 text") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise TaskError(f"{file}: expected a mapping of settings at the top level, got {type(data).__name__}")
    return data


def check_evaluator_source(file: Path) -> None:
    """Make sure evaluate.py parses and defines ``evaluate`` — without executing it here."""
    if not file.is_file():
        raise TaskError(f"{file.parent}: no evaluate.py (it must define evaluate(candidate) -> Result)")
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    except SyntaxError as exc:
        raise TaskError(f"{file}:{exc.lineno}: syntax error in the evaluator: {exc.msg}") from None
    names = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    assigned = {t.id for n in tree.body if isinstance(n, ast.Assign) for t in n.targets if isinstance(t, ast.Name)}
    imported = {a.asname or a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names}
    if "evaluate" not in names | assigned | imported:
        raise TaskError(f"{file}: defines no function 'evaluate(candidate) -> Result'")


def _read_file_program(root: Path, program: Path, config: Config) -> str:
    """The text of a one-file program, checked (balanced markers, Python parses)."""
    if not program.is_file():
        raise TaskError(f"{root}: initial program '{config.program}' not found (set 'program:' in task.yaml)")
    if config.entry is not None:
        raise TaskError(f"{root / 'task.yaml'}: entry: names a module of a folder program; '{config.program}' is "
                        "one file (candidate.call calls its functions directly), remove entry:")
    try:
        code = program.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise TaskError(f"{program}: not UTF-8 text") from None
    from .mutate.blocks import find_blocks

    find_blocks(code)  # raises TaskError on unbalanced markers
    if config.language == "python":
        try:
            ast.parse(code, filename=str(program))
        except SyntaxError as exc:
            raise TaskError(f"{program}:{exc.lineno}: the initial program does not parse: {exc.msg}") from None
    return code


def _read_folder_program(root: Path, program: Path, config: Config) -> str:
    """A folder program packed into one bundle text (`evoforge.bundle`), checked: within
    `program_limits`, text files only, no symlinks, every Python file parses, at least one
    EVOLVE-BLOCK, and `entry` (when given) names a module of the folder."""
    from .bundle import module_file, pack, read_folder
    from .bundle_rules import check_folder_program

    task_root = root.resolve()
    if program.resolve() in (task_root, *task_root.parents):
        raise TaskError(f"program: {config.program!r} is the task folder (or holds it): the candidate would see "
                        "evaluate.py and task.yaml; put the program's files in a folder of their own (program: src/)")
    limits = config.program_limits
    files = read_folder(program, max_files=limits.max_files, max_bytes=limits.max_bytes)
    check_folder_program(files, str(program))
    if config.entry is not None and module_file(config.entry, files) is None:
        module = config.entry.replace(".", "/")
        raise TaskError(f"entry: {config.entry!r} is no module of {program} (expected {module}.py or "
                        f"{module}/__init__.py in it)")
    return pack(files)


def load_task(path: str | Path, overrides: dict[str, Any] | None = None) -> Task:
    """Load and check a task folder; `overrides` are config keys (dotted or nested)."""
    root = Path(path).expanduser()
    if not root.exists():
        raise TaskError(f"task folder {root} does not exist")
    if not root.is_dir():
        raise TaskError(f"{root} is not a folder (a task is a folder with task.yaml, the initial program and evaluate.py)")
    raw = read_task_yaml(root)
    try:
        config = load_config(raw, overrides)
    except ConfigError as exc:
        raise ConfigError(f"{root / 'task.yaml'}: {exc}") from None
    program = root / config.program
    if program.is_dir():
        code = _read_folder_program(root, program, config)
    else:
        code = _read_file_program(root, program, config)
    check_evaluator_source(root / "evaluate.py")
    if not config.description.strip():
        config.description = f"Improve the program so that its score is {'higher' if config.direction == 'maximize' else 'lower'}."
    return Task(path=root.resolve(), config=config, initial_code=code)
