"""The README's task.yaml with every section is a valid config (the documentation cannot drift
from the strict schema)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

from evoforge.config import load_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_task_yaml_is_valid():
    text = README.read_text(encoding="utf-8")
    section = text.split("A `task.yaml` with every section", 1)[1]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    cfg = load_config(yaml.safe_load(block))
    assert cfg.name == "my_task" and cfg.mutation.weights == {}
    assert cfg.llm.model_options and all("profile" in o for o in cfg.llm.model_options.values())
