"""Test helpers that ship with evoforge so that users' and our own tests share them:
a scripted OpenAI-compatible HTTP server and its pytest fixture (`evoforge.testing.pytest_plugin`)."""
