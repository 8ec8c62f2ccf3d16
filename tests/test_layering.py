"""Import rules of the source tree (issue 21), read from the code itself with `ast`:
production code never imports the test helpers (`evoforge.testing`), and no module imports
another module's private (``_name``) names — a package-private *module* (``from evoforge.sandbox
import _process``) is a public door of its package and allowed."""
from __future__ import annotations

import ast
from pathlib import Path

import evoforge

SRC = Path(evoforge.__file__).resolve().parent.parent


def _module_of(path: Path, node: ast.ImportFrom) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    package = parts[:-1]                       # a module's package; an __init__'s own package
    if node.level:
        base = package[: len(package) - node.level + 1]
        return ".".join(base + ([node.module] if node.module else []))
    return node.module or ""


def _imports() -> list[tuple[str, str, list[str]]]:
    """(file, imported module, names) for every import in production code, nested ones included."""
    found = []
    for path in sorted((SRC / "evoforge").rglob("*.py")):
        if path.relative_to(SRC / "evoforge").parts[0] == "testing":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            rel = str(path.relative_to(SRC))
            if isinstance(node, ast.ImportFrom):
                found.append((rel, _module_of(path, node), [a.name for a in node.names]))
            elif isinstance(node, ast.Import):
                found.extend((rel, a.name, []) for a in node.names)
    return found


def test_the_rules_see_relative_imports():
    imports = _imports()
    assert ("evoforge/safety/cli.py", "evoforge.rsi.cli",
            ["is_self_improve_folder", "review_promotions", "single_value"]) in imports
    assert any(f == "evoforge/llm/__init__.py" and m.startswith("evoforge.llm") for f, m, _ in imports)


def test_production_code_never_imports_the_test_helpers():
    bad = [(f, m) for f, m, names in _imports()
           if m.startswith("evoforge.testing") or (m == "evoforge" and "testing" in names)]
    assert bad == []


def test_no_module_imports_another_modules_private_names():
    bad = []
    for f, m, names in _imports():
        for name in names:
            is_module = (SRC.joinpath(*m.split("."), name + ".py").is_file()
                         or SRC.joinpath(*m.split("."), name, "__init__.py").is_file())
            if name.startswith("_") and not name.startswith("__") and not is_module:
                bad.append((f, m, name))
    assert bad == []
