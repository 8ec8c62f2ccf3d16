"""A folder program in the sandbox: laid out exactly as its folder, `call` imports the task's
`entry` module (relative imports work), `run`/`build` run in that folder, errors name the file
and line, and the isolation is the same as for one file (run at every available level)."""
from __future__ import annotations

import pytest
from sandbox_helpers import AVAILABLE, level_id, write_task

from evoforge.bundle import pack
from evoforge.sandbox import Candidate, CandidateError, SandboxLimits, evaluate_code
from evoforge.sandbox.isolation import IsolationLevel

FILES = {
    "solver/__init__.py": "",
    "solver/main.py": "from .heuristic import score\nfrom solver.structure import Heap\n\n\n"
                      "def solve(xs):\n    return [score(x) for x in Heap(xs).drain()]\n\n\n"
                      "def layout():\n    import os\n    return sorted(os.path.relpath(os.path.join(d, f))\n"
                      "                  for d, _, fs in os.walk('.') for f in fs if '__pycache__' not in d)\n\n\n"
                      "def crash():\n    from .heuristic import broken\n    return broken()\n",
    "solver/heuristic.py": "# EVOLVE-BLOCK-START\ndef score(x):\n    return 2 * x\n\n\ndef broken():\n"
                           "    return 1 / 0\n# EVOLVE-BLOCK-END\n",
    "solver/structure.py": "import heapq\n\n\nclass Heap:\n    def __init__(self, xs):\n        self.h = list(xs)\n"
                           "        heapq.heapify(self.h)\n\n    def drain(self):\n"
                           "        while self.h:\n            yield heapq.heappop(self.h)\n",
    "data/table.txt": "1 2 3\n",
    "build.sh": "cat data/table.txt > built.txt\necho built\n",
}
CODE = pack(FILES)


@pytest.fixture(params=AVAILABLE, ids=level_id)
def folder(request):
    cand = Candidate.create(CODE, isolation=request.param, limits=SandboxLimits(), entry="solver.main",
                            build=["sh", "build.sh"])
    yield cand
    cand.close()


def test_the_folder_is_laid_out_and_its_package_imports(folder):
    assert folder.is_folder and folder.language == "python" and folder.files == sorted(FILES)
    assert folder.call("solve", [3, 1, 2]) == [2, 4, 6]      # relative and absolute imports of the package
    assert folder.call("layout") == sorted(FILES)             # exactly the folder's files, nothing else


def test_an_error_names_the_file_and_line(folder):
    with pytest.raises(CandidateError) as info:
        folder.call("crash")
    assert "ZeroDivisionError" in info.value.summary and "solver/heuristic.py line 7" in info.value.summary


def test_build_runs_the_task_command_in_the_folder(folder):
    out = folder.build(timeout=30)
    assert out.returncode == 0 and out.stdout.strip() == "built"
    assert (folder.work_dir / "built.txt").read_text() == "1 2 3\n"
    assert folder.run(["cat", "{program}/built.txt"], timeout=30).stdout == "1 2 3\n"


def test_a_failing_build_is_the_candidates_error():
    with Candidate.create(CODE, entry="solver.main", build=["sh", "-c", "echo no compiler >&2; exit 3"]) as cand:
        with pytest.raises(CandidateError, match=r"build command .* failed \(exit code 3\): no compiler"):
            cand.build(timeout=30)
    with Candidate.create(CODE, entry="solver.main") as cand:
        with pytest.raises(ValueError, match="sets no build: command"):
            cand.build()


def test_call_without_entry_says_what_to_set():
    with Candidate.create(CODE) as cand:
        with pytest.raises(TypeError, match="entry: in task.yaml"):
            cand.call("solve", [1])


@pytest.mark.skipif(IsolationLevel.BWRAP not in AVAILABLE and IsolationLevel.LANDLOCK not in AVAILABLE,
                    reason="needs a level that confines writes (bwrap or landlock)")
def test_a_folder_candidate_cannot_write_outside_its_folder(tmp_path):
    level = IsolationLevel.BWRAP if IsolationLevel.BWRAP in AVAILABLE else IsolationLevel.LANDLOCK
    target = tmp_path / "escape.txt"
    files = dict(FILES)
    files["solver/heuristic.py"] = ("# EVOLVE-BLOCK-START\ndef score(x):\n    try:\n"
                                    f"        open({str(target)!r}, 'w').write('x')\n    except OSError:\n"
                                    "        pass\n    return x\n# EVOLVE-BLOCK-END\n")
    with Candidate.create(pack(files), isolation=level, entry="solver.main") as cand:
        assert cand.call("solve", [1]) == [1]
    assert not target.exists()


def test_the_evaluator_host_hands_entry_and_build_to_the_candidate(tmp_path):
    task = write_task(tmp_path / "task", """
        from evoforge import Result

        def evaluate(candidate):
            built = candidate.build(timeout=30).stdout.strip()
            return Result(score=sum(candidate.call("solve", [1, 2])), feedback=built)
        """)
    ev = evaluate_code(task, CODE, program_filename="src", entry="solver.main", build=["sh", "build.sh"],
                       timeout=60)
    assert ev.status == "ok", ev.reason
    assert ev.result.score == 6 and ev.result.feedback == "built"
