"""The landlock launcher's read-only mount tree (`lockdown.read_only_root`): mount points are
read from /proc/self/mountinfo as bytes, with the kernel's octal escapes undone."""
from __future__ import annotations

from evoforge.sandbox import lockdown


def test_mountinfo_paths_are_unescaped_as_bytes():
    assert lockdown._unescape(rb"/tmp/a\040b\011c\012d\134e") == b"/tmp/a b\tc\nd\\e"
    assert lockdown._unescape(b"/tmp/odd\xffname") == b"/tmp/odd\xffname"   # not UTF-8: kept
    assert lockdown._unescape(b"/plain") == b"/plain"
