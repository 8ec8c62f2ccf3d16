"""Prompt evolution inside an ordinary run: ``evoforge run TASK --set strategy=PATH_TO_THIS_FILE``.

See evoforge.rsi.prompt_evolution: an archive of system prompts chosen by a bandit and scored by
the programs they produce. It learns only where the engine calls ``observe`` and ``bind``."""
from evoforge.rsi.prompt_evolution import PromptEvolvingStrategy as Strategy

__all__ = ["Strategy"]
