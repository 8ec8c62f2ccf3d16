"""Benchmark scripts of ``evoforge self-improve --target``.

The ``run_*.py`` files are copied into a candidate's sandbox and run there (they import the
candidate's copy of evoforge); they only print raw outputs as JSON. Expected answers and the
score are computed by the trusted evaluator (`evoforge.rsi.target`), never inside the sandbox.
"""
