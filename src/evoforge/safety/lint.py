"""A static lint of candidate code for patterns used to cheat an evaluator.

It flags (and, when configured, blocks) code that exits early, inspects frames, reaches for
ctypes, overrides comparisons, swallows every exception, touches files outside its folder,
patches the clock, or reads the environment. The sandbox is what actually contains a candidate;
the lint is how a person learns that the search found a shortcut, before trusting a score.
"""
from __future__ import annotations

import ast
from dataclasses import dataclass

EXIT_CALLS = {"sys.exit", "os._exit", "exit", "quit", "os.abort", "os.kill", "os.killpg"}
FRAME_CALLS = {"sys._getframe", "inspect.currentframe", "inspect.stack", "inspect.getouterframes",
               "gc.get_objects", "gc.get_referrers", "sys.settrace", "sys.setprofile", "sys.modules"}
FRAME_ATTRS = {"f_back", "f_globals", "f_locals", "gi_frame", "tb_frame", "__globals__", "__code__", "__builtins__"}
COMPARE_DUNDERS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__", "__float__",
                   "__bool__", "__abs__", "__len__", "__index__", "__int__"}
DANGEROUS_MODULES = {"ctypes": "ctypes", "cffi": "ctypes", "socket": "network", "urllib": "network",
                     "http": "network", "requests": "network", "subprocess": "process", "multiprocessing": "process",
                     "signal": "signals", "resource": "limits", "pty": "process", "importlib": "import"}
CLOCK_NAMES = {"time", "perf_counter", "monotonic", "process_time", "time_ns", "perf_counter_ns", "monotonic_ns"}
ENV_CALLS = {"os.getenv", "os.putenv", "os.unsetenv", "os.environ", "os.environb"}
FILE_CALLS = {"os.remove", "os.unlink", "os.rename", "os.replace", "os.rmdir", "os.chmod", "os.chown",
              "os.symlink", "os.link", "shutil.rmtree", "shutil.copy", "shutil.move", "os.system", "os.popen",
              "os.execv", "os.execve", "os.fork", "os.setsid", "os.chdir"}
DYNAMIC_CALLS = {"eval", "exec", "compile", "__import__", "globals", "setattr", "delattr", "vars"}


@dataclass(frozen=True)
class Finding:
    rule: str
    line: int
    message: str
    file: str = ""   # a folder program: the file (relative path) the line is in

    def __str__(self) -> str:
        where = f"{self.file} line {self.line}" if self.file else f"line {self.line}"
        return f"{where}: [{self.rule}] {self.message}"


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


def _aliases(tree: ast.AST) -> dict[str, str]:
    """Local name -> what it stands for: ``import os as o`` gives o -> os, ``from sys import exit
    as leave`` gives leave -> sys.exit, so renamed imports cannot hide a call."""
    out: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    out[a.asname] = a.name
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                out[a.asname or a.name] = f"{node.module}.{a.name}"
    return out


class _Linter(ast.NodeVisitor):
    def __init__(self, aliases: dict[str, str] | None = None) -> None:
        self.findings: list[Finding] = []
        self.aliases = aliases or {}

    def name_of(self, node: ast.AST) -> str:
        """The dotted name with import aliases and ``sys.modules['x']`` resolved."""
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Subscript)
                and _dotted(node.value.value) == "sys.modules" and isinstance(node.value.slice, ast.Constant)):
            return f"{node.value.slice.value}.{node.attr}"
        name = _dotted(node)
        if not name:
            return name
        head, _, rest = name.partition(".")
        if head in self.aliases:
            return self.aliases[head] + ("." + rest if rest else "")
        return name

    def add(self, rule: str, node: ast.AST, message: str) -> None:
        self.findings.append(Finding(rule, getattr(node, "lineno", 0), message))

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            root = alias.name.split(".")[0]
            if root in DANGEROUS_MODULES:
                self.add(DANGEROUS_MODULES[root], node, f"imports {alias.name}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        root = (node.module or "").split(".")[0]
        if root in DANGEROUS_MODULES:
            self.add(DANGEROUS_MODULES[root], node, f"imports from {node.module}")
        if root == "time" and any(a.name in CLOCK_NAMES for a in node.names):
            pass  # reading the clock is fine; assigning to it is caught below
        if root == "os" and any(a.name in ("environ", "getenv", "_exit") for a in node.names):
            self.add("environment" if node.names[0].name != "_exit" else "exit", node, f"imports {node.names[0].name} from os")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        name = self.name_of(node.func)
        if name in ("getattr", "setattr", "delattr") and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant):
            target = f"{self.name_of(node.args[0])}.{node.args[1].value}"
            if target in EXIT_CALLS:
                self.add("exit", node, f"reaches {target} through {name}()")
            elif target in ENV_CALLS:
                self.add("environment", node, f"reaches {target} through {name}()")
            elif str(node.args[1].value) in COMPARE_DUNDERS:
                self.add("operators", node, f"sets {node.args[1].value} through {name}()")
        if name == "type" and len(node.args) == 3 and isinstance(node.args[2], ast.Dict):
            keys = {k.value for k in node.args[2].keys if isinstance(k, ast.Constant)}
            for dunder in sorted(keys & COMPARE_DUNDERS):
                self.add("operators", node, f"builds a class overriding {dunder} with type()")
        if name in EXIT_CALLS:
            self.add("exit", node, f"calls {name}() — success is never an exit code")
        elif name in FRAME_CALLS:
            self.add("frames", node, f"calls {name}() — inspecting the caller's frames or objects")
        elif name in ENV_CALLS:
            self.add("environment", node, f"calls {name}() — reading or changing the environment")
        elif name in FILE_CALLS:
            self.add("files", node, f"calls {name}()")
        elif name in DYNAMIC_CALLS:
            self.add("dynamic", node, f"calls {name}() — code or attributes built at run time")
        elif name == "open" or name.endswith(".open") or name in ("io.open", "os.open"):
            self._check_path_arg(node)
        self.generic_visit(node)

    def _check_path_arg(self, node: ast.Call) -> None:
        if not node.args:
            return
        arg = node.args[0]
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            path = arg.value
            if path.startswith(("/", "~")) or ".." in path.split("/"):
                self.add("files", node, f"opens {path!r}, outside the candidate's work folder")
        else:
            self.add("files", node, "opens a file whose path is computed at run time")

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.exc is not None and _dotted(node.exc.func if isinstance(node.exc, ast.Call) else node.exc) in ("SystemExit", "KeyboardInterrupt"):
            self.add("exit", node, "raises SystemExit — success is never an exit code")
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is None:
            self.add("catch_all", node, "bare 'except:' also swallows SystemExit and KeyboardInterrupt")
        else:
            caught = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            if any(_dotted(t) == "BaseException" for t in caught):
                self.add("catch_all", node, "catches BaseException")
        self.generic_visit(node)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in COMPARE_DUNDERS:
                self.add("operators", item, f"class {node.name} overrides {item.name}")
            if isinstance(item, ast.Assign):
                for t in item.targets:
                    if isinstance(t, ast.Name) and t.id in COMPARE_DUNDERS:
                        self.add("operators", item, f"class {node.name} overrides {t.id}")
        self.generic_visit(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            self._check_target(target, node)
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._check_target(node.target, node)
        self.generic_visit(node)

    def _check_target(self, target: ast.AST, node: ast.AST) -> None:
        name = self.name_of(target)
        if name.startswith("time.") and name.split(".")[-1] in CLOCK_NAMES:
            self.add("clock", node, f"assigns to {name} — patching the clock")
        elif name.startswith(("builtins.", "__builtins__")):
            self.add("dynamic", node, f"assigns to {name}")
        elif name.startswith("os.environ"):
            self.add("environment", node, "writes to os.environ")
        elif isinstance(target, ast.Subscript) and _dotted(target.value) in ("os.environ", "sys.modules", "__builtins__"):
            self.add("environment" if "environ" in _dotted(target.value) else "dynamic", node, f"writes into {_dotted(target.value)}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr in FRAME_ATTRS:
            self.add("frames", node, f"uses .{node.attr}")
        elif self.name_of(node) in ("os.environ", "os.environb") and not isinstance(getattr(node, "ctx", None), ast.Store):
            self.add("environment", node, "reads os.environ")
        self.generic_visit(node)


def lint(code: str) -> list[Finding]:
    """Findings for Python `code` (an empty list for clean code or code that does not parse); a
    folder program (`evoforge.bundle`) is linted file by file, its Python files (by extension)."""
    from ..bundle import BundleError, is_bundle, language_of, unpack

    if is_bundle(code):
        try:
            files = unpack(code)
        except BundleError:
            return []
        return [Finding(f.rule, f.line, f.message, path) for path, text in files.items()
                if language_of(path) == "python" for f in lint(text)]
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return []
    linter = _Linter(_aliases(tree))
    linter.visit(tree)
    unique: dict[tuple[str, int, str], Finding] = {}
    for f in linter.findings:
        unique.setdefault((f.rule, f.line, f.message), f)
    return sorted(unique.values(), key=lambda f: (f.line, f.rule))


def lint_new_findings(child: str, parent: str | None) -> list[Finding]:
    """Findings in `child` that its parent did not already have (the task's own code is trusted)."""
    old = {(f.file, f.rule, f.message) for f in lint(parent)} if parent else set()
    return [f for f in lint(child) if (f.file, f.rule, f.message) not in old]
