"""Removing a candidate's scratch folder repairs permissions only inside it: the shared temp
folder above it keeps its mode whatever the candidate did or whoever removed the folder first
(a removal that raced with a sweep once chmodded /tmp to 0700), and the disk watchdog cannot be
sent outside the folder by a directory swapped for a symlink."""
from __future__ import annotations

import os
import stat

from evoforge.sandbox._scratch import remove_tree
from evoforge.sandbox._watchdog import disk_usage


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_unreadable_subfolders_are_removed_and_the_parent_is_untouched(tmp_path):
    tmp_path.chmod(0o755)
    scratch = tmp_path / "evoforge-cand-1"
    (scratch / "a" / "b").mkdir(parents=True)
    (scratch / "a" / "b" / "f").write_bytes(b"x")
    (scratch / "a").chmod(0)
    remove_tree(scratch)
    assert not scratch.exists() and _mode(tmp_path) == 0o755


def test_removing_a_folder_that_is_already_gone_changes_nothing(tmp_path):
    tmp_path.chmod(0o1777)
    remove_tree(tmp_path / "evoforge-cand-gone")
    assert _mode(tmp_path) == 0o1777


def test_symlinked_folders_are_neither_walked_nor_repaired(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    outside.chmod(0o755)
    (outside / "big").write_bytes(b"o" * (1 << 20))
    work = tmp_path / "work"
    work.mkdir()
    os.symlink(outside, work / "link")
    assert disk_usage([str(work)]) < (1 << 20)
    remove_tree(work)
    assert not work.exists() and (outside / "big").exists() and _mode(outside) == 0o755
