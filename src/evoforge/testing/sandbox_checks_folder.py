"""Conformance checks, part 4: folder programs (`evoforge.bundle`). A folder candidate is laid
out exactly as its folder, its entry module imports as a package (warm and cold), and it gets
no more reach than a one-file candidate: host files stay unreadable, writes outside its folder
never reach the host."""
from __future__ import annotations

import contextlib
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

from evoforge.bundle import pack
from evoforge.sandbox import Candidate, SandboxLimits
from evoforge.testing.sandbox_properties import breach_if, provides

MAIN = '''import os

from .helper import double


def layout():
    return sorted(os.path.relpath(os.path.join(d, f)) for d, _, fs in os.walk(".") for f in fs)


def value(x):
    return double(x)


def try_read(paths):
    seen = {}
    for p in paths:
        try:
            with open(p, "rb") as fh:
                seen[p] = fh.read(200).decode(errors="replace")
        except OSError as exc:
            seen[p] = type(exc).__name__
    return seen


def try_write(paths):
    for p in paths:
        try:
            with open(p, "w") as fh:
                fh.write("escaped")
        except OSError:
            pass
    return True
'''
FILES = {"pkg/__init__.py": "", "pkg/main.py": MAIN,
         "pkg/helper.py": "# EVOLVE-BLOCK-START\ndef double(x):\n    return 2 * x\n# EVOLVE-BLOCK-END\n",
         "data/notes.txt": "no final newline"}


class FolderChecks:
    """Mixed into `sandbox_suite.SandboxTestCase` (its `make_candidate` fixture and `level`)."""

    level: str = ""
    timeout: float = 20.0
    limits: SandboxLimits

    def _folder(self, make_candidate: Callable[..., Candidate]) -> Candidate:
        return make_candidate(pack(FILES), entry="pkg.main")

    def test_a_folder_program_is_laid_out_and_imports_as_a_package(
            self, make_candidate: Callable[..., Candidate]) -> None:
        cand = self._folder(make_candidate)
        assert cand.call("value", 21, timeout=self.timeout) == 42
        assert cand.call("layout", timeout=self.timeout) == sorted(FILES)
        assert (cand.work_dir / "data" / "notes.txt").read_text() == FILES["data/notes.txt"]

    @provides("hides_host_files")
    def test_a_folder_program_cannot_read_host_files(self, make_candidate: Callable[..., Candidate],
                                                     tmp_path: Path) -> None:
        secret = tmp_path / "task" / "hidden_tests.txt"
        secret.parent.mkdir()
        secret.write_text("HIDDEN-CONFORMANCE-ANSWER")
        seen = self._folder(make_candidate).call("try_read", [str(secret)], timeout=self.timeout)
        breach_if(not seen[str(secret)].endswith("Error"), f"a host file was readable: {seen}")

    @provides("host_read_only")
    def test_a_folder_program_cannot_write_outside_its_folder(
            self, make_candidate: Callable[..., Candidate], tmp_path: Path) -> None:
        canary = tmp_path / "host-folder"
        canary.mkdir()
        host_tmp = Path(tempfile.gettempdir()) / f"evoforge-conformance-{uuid.uuid4().hex}"
        cand = self._folder(make_candidate)
        try:
            cand.call("try_write", [str(canary / "planted.txt"), str(host_tmp), "../runtime/planted.txt"],
                      timeout=self.timeout)
            appeared = [str(p) for p in (canary / "planted.txt", host_tmp, cand.runtime_dir / "planted.txt")
                        if p.exists()]
        finally:
            with contextlib.suppress(OSError):
                host_tmp.unlink()
        breach_if(appeared, f"files written outside the folder appeared on the host: {appeared}")
