"""The seed agent of ``evoforge dgm`` (package data: these files are copied into a sandbox and run
there as ``python agent/agent.py TASK_DIR``; nothing here is imported by evoforge itself)."""
