"""The sandbox: run untrusted candidate programs, score them with a trusted evaluator.

Public API:
    Candidate, CandidateError, CandidateTimeout, CompletedRun   what `evaluate()` receives
    CandidateBudgetExceeded, CallCost                           CPU budgets and measured cost
    Result                                                      what `evaluate()` returns
    evaluate_code, Evaluation, load_evaluator_check             the trusted evaluator host
    SandboxLimits, IsolationLevel, detect_isolation             configuration
"""
from evoforge.sandbox.candidate import (
    Candidate,
    CandidateBudgetExceeded,
    CandidateError,
    CandidateTimeout,
    CompletedRun,
)
from evoforge.sandbox.cost import CallCost
from evoforge.sandbox.host import Evaluation, evaluate_code, load_evaluator_check
from evoforge.sandbox.isolation import (
    IsolationLevel,
    detect_isolation,
    resolve_isolation,
)
from evoforge.sandbox.limits import SandboxLimits
from evoforge.sandbox.result import Result

__all__ = [
    "CallCost", "Candidate", "CandidateBudgetExceeded", "CandidateError", "CandidateTimeout",
    "CompletedRun", "Evaluation",
    "IsolationLevel", "Result", "SandboxLimits", "detect_isolation", "evaluate_code",
    "load_evaluator_check", "resolve_isolation",
]
