"""A real evolution of a folder program (issue 19): a task whose program is a package of three files
(two with blocks, one frozen that the evaluator calls), a local OpenAI-protocol server whose model
answers with SEARCH/REPLACE edits naming their file, the sandbox running each child in its folder.
The frozen file naming edit fails with its reason, is retried in the conversation, and the run
improves; every stored child keeps the frozen file and each file's outside text."""
from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

import evoforge
from evoforge.bundle import unpack
from evoforge.bundle_rules import child_violation
from evoforge.program import AttemptStatus
from evoforge.storage import open_storage
from evoforge.testing.openai_server import ScriptedOpenAIServer

FILES = {
    "solver/__init__.py": "",
    "solver/heuristic.py": "# EVOLVE-BLOCK-START\nWEIGHT = 2\n# EVOLVE-BLOCK-END\n",
    "solver/structure.py": "# EVOLVE-BLOCK-START\nSIZE = 3\n# EVOLVE-BLOCK-END\n\n\ndef size():\n    return SIZE\n",
    "solver/main.py": "from solver.heuristic import WEIGHT\nfrom solver.structure import size\n\n\n"
                      "def solve():\n    return WEIGHT * size()\n",
}
EVALUATE = ("from evoforge import Result\n\n\ndef evaluate(candidate):\n"
            "    return Result(score=float(candidate.call('solve', timeout=30)))\n")


def write_folder_task(root: Path) -> Path:
    for path, text in FILES.items():
        target = root / "src" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    (root / "task.yaml").write_text("name: folder_value\ndescription: Make solve() return a larger number.\n"
                                    "program: src\nentry: solver.main\n")
    (root / "evaluate.py").write_text(EVALUATE)
    return root


def _current_program(request: dict) -> str:
    """The parent's text in the first user message, in either profile's layout."""
    text = next(m["content"] for m in request["messages"] if m["role"] == "user")
    for start, end in (("# Current program", "\n\n# "), ("\nCode:\n", "\n\nExample")):
        if start in text:
            return text.split(start, 1)[1].split(end, 1)[0]
    raise AssertionError("no program in the prompt")


class FileEditingModel:
    """Answers in turn: an edit of the heuristic (``FILE:`` line), one of the structure (aider's
    path-line layout), and one naming the frozen main.py; told why that failed, it edits both."""

    def __init__(self) -> None:
        self.turn = 0
        self.lock = threading.Lock()  # the server answers requests on several threads

    def __call__(self, request: dict) -> str:
        program = _current_program(request)
        weight = int(re.search(r"WEIGHT = (\d+)", program).group(1))
        size = int(re.search(r"SIZE = (\d+)", program).group(1))
        with self.lock:
            self.turn += 1
            turn = self.turn
        step = 2 ** turn  # distinct powers of two: no two children can have the same code
        heuristic = f"<<<<<<< SEARCH\nWEIGHT = {weight}\n=======\nWEIGHT = {weight + step}\n>>>>>>> REPLACE\n"
        structure = f"<<<<<<< SEARCH\nSIZE = {size}\n=======\nSIZE = {size + step}\n>>>>>>> REPLACE\n"
        if "That failed:" in request["messages"][-1]["content"]:
            return f"FILE: solver/heuristic.py\n{heuristic}\nFILE: solver/structure.py\n{structure}"
        idea = f"Idea {turn}."  # replies differ, so none is a repeat of an earlier one
        if turn % 4 == 1:
            return f"{idea} Raise the weight.\n\nFILE: solver/heuristic.py\n{heuristic}"
        if turn % 4 == 2:
            return f"{idea} A bigger structure.\n\nsolver/structure.py\n```python\n{structure}```\n"
        return (f"{idea}\nFILE: solver/main.py\n<<<<<<< SEARCH\n    return WEIGHT * size()\n=======\n"
                "    return 1000\n>>>>>>> REPLACE\n")


@pytest.mark.parametrize("profile", ["large", "small"])
def test_a_folder_program_evolves_with_edits_that_name_their_files(tmp_path, profile):
    task = write_folder_task(tmp_path / "task")
    with ScriptedOpenAIServer(responder=FileEditingModel()) as srv:
        result = evoforge.run(task, llm=f"openai/scripted@{srv.base_url}", budget=6, run_dir=tmp_path / "run",
                              overrides={"mutation.weights": {"diff": 1.0}, "search.novelty": False,
                                         "llm.profile": profile})
        requests = list(srv.requests)
    store = open_storage(result.storage_url, read_only=True)
    try:
        attempts = store.attempts(result.run_id)
    finally:
        store.close()
    initial = next(a for a in attempts if a.mutation == "initial")
    children = [a for a in attempts if a.mutation != "initial"]
    assert initial.score == 6.0 and len(children) == 5   # the budget counts the initial program too
    assert all(a.status is AttemptStatus.OK for a in children), [(a.status, a.reason) for a in children]
    for a in children:
        assert unpack(a.code)["solver/main.py"] == FILES["solver/main.py"]
        assert child_violation(initial.code, a.code) is None
        assert a.diff.startswith("--- a/solver/") and "main.py" not in a.diff
    # the prompt showed the files by path; the frozen one only to the large profile, as read-only
    first = requests[0]["messages"][-1]["content"]
    assert "FILE: solver/heuristic.py" in first and "FILE: solver/structure.py" in first
    assert ("FILE: solver/main.py (read-only)" in first) is (profile == "large")
    # the edit naming main.py was refused with its reason and retried in the conversation
    retries = [r for r in requests if "That failed:" in r["messages"][-1]["content"]]
    assert retries and all("solver/main.py is read-only" in r["messages"][-1]["content"] for r in retries)
    retried = [a for a in children if "--- retry 1 ---" in a.response]
    assert retried and all("--- a/solver/heuristic.py" in a.diff and "--- a/solver/structure.py" in a.diff
                           for a in retried)
    assert result.best is not None and result.best.score > 6.0
    best = unpack(result.best.code)
    assert best["solver/main.py"] == FILES["solver/main.py"] and best["solver/__init__.py"] == ""


def rewriting_model(request: dict) -> str:
    """Answers a rewrite request with the whole new structure file after its FILE: line."""
    program = _current_program(request)
    size = int(re.search(r"SIZE = (\d+)", program).group(1))
    new = FILES["solver/structure.py"].replace("SIZE = 3", f"SIZE = {size + 1 + (request.get('seed') or 0) % 97}")
    return f"A larger structure.\n\nFILE: solver/structure.py\n```python\n{new}```\n"


def test_rewrites_and_zero_cost_operators_of_a_folder_program_in_a_real_run(tmp_path):
    task = write_folder_task(tmp_path / "task")
    with ScriptedOpenAIServer(responder=rewriting_model) as srv:
        result = evoforge.run(task, llm=f"openai/scripted@{srv.base_url}", budget=12, run_dir=tmp_path / "run",
                              overrides={"mutation.weights": {"full": 1.0, "perturb": 1.0}, "search.novelty": False,
                                         "llm.profile": "large"})
        asked = [r["messages"][-1]["content"] for r in srv.requests]
    store = open_storage(result.storage_url, read_only=True)
    try:
        attempts = store.attempts(result.run_id)
    finally:
        store.close()
    initial = next(a for a in attempts if a.mutation == "initial")
    children = [a for a in attempts if a.mutation != "initial"]
    ok = [a for a in children if a.status is AttemptStatus.OK]
    assert {a.mutation for a in ok} == {"full", "perturb"}, [(a.mutation, a.status, a.reason) for a in children]
    assert all(a.reason for a in children if a.status is not AttemptStatus.OK)
    for a in ok:
        assert child_violation(initial.code, a.code) is None
        assert unpack(a.code)["solver/main.py"] == FILES["solver/main.py"]
    assert all("For each file you change, write a line FILE: path" in text for text in asked)
    assert all(a.diff.startswith("--- a/solver/structure.py") for a in ok if a.mutation == "full")
    assert result.best.score > 6.0
