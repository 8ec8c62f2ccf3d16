"""The sandbox conformance suite (evoforge.testing.sandbox_suite) against every isolation level.

A level that does not work here is skipped with its reason; a property a level does not
promise is an expected failure (xfail, strict, raises=Breach) with the documented reason.
"""
from __future__ import annotations

from evoforge.testing.sandbox_suite import SandboxTestCase


class TestBwrap(SandboxTestCase):
    level = "bwrap"


class TestLandlock(SandboxTestCase):
    level = "landlock"


class TestUnshare(SandboxTestCase):
    level = "unshare"


class TestNone(SandboxTestCase):
    level = "none"
