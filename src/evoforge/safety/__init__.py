"""Safety inside the loop: static lint, result checks, integrity, quarantine and audit."""
from .checks import ResultGuard, Verdict
from .integrity import IntegrityError, TaskIntegrity
from .lint import Finding, lint, lint_new_findings

__all__ = ["Finding", "IntegrityError", "ResultGuard", "TaskIntegrity", "Verdict", "lint", "lint_new_findings"]
