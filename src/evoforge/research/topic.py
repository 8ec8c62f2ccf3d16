"""A research topic is a folder; loading it checks everything before any model call or run.

    TOPIC/description.md   what the study is about, in plain words (required)
    TOPIC/template/        the experiment: an ordinary evoforge task folder whose program (with
                           EVOLVE-BLOCKs) is the baseline and whose evaluate.py is trusted (required)
    TOPIC/seed_ideas.json  a list of idea records to study first (optional)
    TOPIC/research.yaml    settings (optional; unknown keys are errors, see settings.py)
    corpus folder          prior work ideas must differ from (research.yaml ``corpus``, optional)
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError, TaskError, UserError
from ..task import Task, load_task
from .forms import IDEA, FormError
from .settings import ResearchSettings, load_settings

DESCRIPTION = "description.md"
TEMPLATE = "template"
SEED_IDEAS = "seed_ideas.json"
SETTINGS = "research.yaml"


class TopicError(UserError):
    """A topic folder that cannot be studied; the message says what to fix."""


@dataclass
class Topic:
    path: Path
    description: str
    template: Task
    settings: ResearchSettings
    seed_ideas: list[dict[str, Any]] = field(default_factory=list)
    corpus: Path | None = None

    @property
    def baseline(self) -> str:
        return self.template.initial_code


def _settings(root: Path, overrides: dict[str, Any] | None) -> ResearchSettings:
    file = root / SETTINGS
    data: Any = {}
    if file.is_file():
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise TopicError(f"{file}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise TopicError(f"{file}: expected a mapping of settings, got {type(data).__name__}")
    try:
        return load_settings(data, overrides)
    except ConfigError as exc:
        raise TopicError(f"{file}: {exc}") from None


def _seed_ideas(root: Path) -> list[dict[str, Any]]:
    file = root / SEED_IDEAS
    if not file.exists():
        return []
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise TopicError(f"{file}: not valid JSON: {exc}") from None
    if not isinstance(data, list):
        raise TopicError(f"{file}: expected a list of idea records, got {type(data).__name__}")
    out = []
    for i, item in enumerate(data):
        try:
            out.append(IDEA.check(item))
        except FormError as exc:
            raise TopicError(f"{file}: idea {i + 1}: {exc}") from None
    return out


def load_topic(path: str | Path, overrides: dict[str, Any] | None = None) -> Topic:
    """Load and check a topic folder (see the module docstring); raises TopicError."""
    root = Path(path).expanduser()
    if not root.is_dir():
        raise TopicError(f"topic folder {root} does not exist" if not root.exists() else f"{root} is not a folder")
    desc_file = root / DESCRIPTION
    if not desc_file.is_file():
        raise TopicError(f"{root}: no {DESCRIPTION} (say in plain words what the study is about)")
    description = desc_file.read_text(encoding="utf-8", errors="replace").strip()
    if not description:
        raise TopicError(f"{desc_file} is empty (say in plain words what the study is about)")
    settings = _settings(root, overrides)
    if not (root / TEMPLATE).is_dir():
        raise TopicError(f"{root}: no {TEMPLATE}/ folder (an evoforge task folder: task.yaml, the baseline "
                         "program with EVOLVE-BLOCKs, evaluate.py)")
    try:
        template = load_task(root / TEMPLATE)
    except (TaskError, ConfigError) as exc:
        raise TopicError(f"{root / TEMPLATE} is not a valid experiment template: {exc}") from None
    from ..mutate.blocks import marker_kind

    if not any(marker_kind(line) == "start" for line in template.initial_code.splitlines()):
        raise TopicError(f"{root / TEMPLATE / template.config.program}: the baseline has no EVOLVE-BLOCK-START / "
                         "EVOLVE-BLOCK-END markers (mark the part the experiments may change)")
    corpus = None
    if settings.corpus is not None:
        corpus = (root / settings.corpus).resolve()
        if not corpus.is_dir():
            raise TopicError(f"{root / SETTINGS}: corpus folder {corpus} does not exist")
    return Topic(root.resolve(), description, template, settings, _seed_ideas(root), corpus)
