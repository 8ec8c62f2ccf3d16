"""The bundle codec: a folder program as one text, round-tripping byte for byte."""
from __future__ import annotations

import pytest

from evoforge.bundle import (BundleError, changed_files, check_path, file_diff, is_bundle, pack,
                             read_folder, unpack, write_folder)


def test_round_trip_keeps_every_byte():
    files = {"b/x.py": "x = 1\n", "a.c": "int f(void) { return 1; }", "crlf.txt": "one\r\ntwo\r\n", "empty.py": ""}
    code = pack(files)
    assert is_bundle(code)
    assert unpack(code) == files
    assert list(unpack(code)) == sorted(files)


def test_single_file_code_is_not_a_bundle():
    assert not is_bundle("x = 1\n")
    with pytest.raises(BundleError, match="not a multi-file"):
        unpack("x = 1\n")


@pytest.mark.parametrize("bad", ["/etc/passwd", "../x.py", "a/../../x", "a//b", "a\\b", "", " a", "a/./b", "x\n"])
def test_unsafe_paths_are_refused(bad):
    with pytest.raises(BundleError):
        check_path(bad)
    with pytest.raises(BundleError):
        pack({bad: "x"})


def test_a_file_holding_a_marker_line_is_refused():
    with pytest.raises(BundleError, match="marker"):
        pack({"a.py": "=== evoforge-file: b.py ===\n"})


def test_duplicate_path_in_bundle_is_refused():
    code = "=== evoforge-file: a.py ===\nx\n=== evoforge-file: a.py ===\ny\n"
    with pytest.raises(BundleError, match="twice"):
        unpack(code)


def test_diff_names_only_changed_files():
    old = pack({"a.py": "x = 1\n", "b.py": "y = 2\n"})
    new = pack({"a.py": "x = 1\n", "b.py": "y = 3\n", "c.py": "z\n"})
    diff = file_diff(old, new)
    assert "a/b.py" in diff and "b/c.py" in diff and "a.py" not in diff.replace("b.py", "").replace("c.py", "")
    assert changed_files(old, new) == ["b.py", "c.py"]


def test_read_folder_refuses_binary_symlink_and_limits(tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    (tmp_path / "pkg" / "__pycache__").mkdir()
    (tmp_path / "pkg" / "__pycache__" / "m.cpython-311.pyc").write_bytes(b"\0\1")
    assert read_folder(tmp_path) == {"pkg/m.py": "x = 1\n"}
    with pytest.raises(BundleError, match="more than 0 files|more than"):
        read_folder(tmp_path, max_files=0)
    with pytest.raises(BundleError, match="bytes"):
        read_folder(tmp_path, max_bytes=3)
    (tmp_path / "blob.bin").write_bytes(b"ab\0cd")
    with pytest.raises(BundleError, match="binary"):
        read_folder(tmp_path)
    (tmp_path / "blob.bin").unlink()
    (tmp_path / "link.py").symlink_to("/etc/hostname")
    with pytest.raises(BundleError, match="symbolic"):
        read_folder(tmp_path)
    (tmp_path / "link.py").unlink()
    (tmp_path / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(BundleError, match="UTF-8"):
        read_folder(tmp_path)


def test_empty_folder_is_refused(tmp_path):
    with pytest.raises(BundleError, match="no files"):
        read_folder(tmp_path)


def test_write_folder_lays_out_files(tmp_path):
    code = pack({"pkg/__init__.py": "", "pkg/core.py": "A = 1", "run.sh": "echo hi\n"})
    write_folder(code, tmp_path / "out")
    assert (tmp_path / "out" / "pkg" / "core.py").read_text() == "A = 1"
    assert (tmp_path / "out" / "run.sh").read_text() == "echo hi\n"


def test_write_folder_rechecks_paths_from_an_edited_bundle(tmp_path):
    evil = "=== evoforge-file: ../escape.py ===\nx\n"
    with pytest.raises(BundleError):
        write_folder(evil, tmp_path / "out")
    assert not (tmp_path / "escape.py").exists()


def test_a_cut_marker_is_not_a_bundle_and_cannot_be_packed():
    assert not is_bundle("=== evoforge-file: x\nfoo\n")
    with pytest.raises(BundleError):
        unpack("=== evoforge-file: x\nfoo\n")
    with pytest.raises(BundleError, match="marker"):
        pack({"a.py": "=== evoforge-file: not closed\n"})
