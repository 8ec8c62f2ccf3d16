"""The engine: ask/tell core, budgets, the worker loop, run and resume."""
