"""Strict configuration.

One YAML file per task (``task.yaml``) plus CLI/Python overrides, validated into frozen-ish
dataclasses. Strictness is the point: an unknown key is an error that names the closest valid
key, a wrong type names the field and the value. Config keys that are silently ignored are an
anti-pattern we saw in peers and will not repeat.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, Union, get_args, get_origin

from .bundle import DEFAULT_MAX_BYTES, DEFAULT_MAX_FILES
from .errors import ConfigError
from .mutate import kinds as kind_registry
from .search import archives as archive_registry
from .search import selection as selection_registry


@dataclass
class StageConfig:
    """One cascade stage: ``evaluate(candidate, **args)``; a score below `threshold` stops there."""

    name: str = "stage"
    args: dict[str, Any] = field(default_factory=dict)
    threshold: float | None = None


@dataclass
class EvaluatorConfig:
    """How candidates are evaluated."""

    timeout: float = 120.0          # wall clock for one whole evaluate() call, seconds
    workers: int = 1                # evaluations in flight at once
    isolation: str = "auto"         # auto | bwrap | landlock | unshare | none
    require_isolation: str = "none"  # refuse to run below this level
    warm: bool = True               # fork candidate calls from a pre-started zygote (landlock, bwrap)
    warm_host: bool = True          # evaluations forked from a host that imported evaluate.py once (sandbox/host_pool.py)
    host_evaluations: int = 100     # evaluations one warm host serves before it is replaced
    memory_mb: int = 2048           # address-space limit per candidate process
    disk_mb: int = 1024             # total a candidate may store in its work dir (watched every 50 ms)
    cpu_seconds: int = 0            # 0 = derived from the timeout
    cpu_budget_s: float | None = None  # CPU seconds all candidate calls of one evaluation may use (whole process trees)
    max_output_kb: int = 256        # stdout/stderr kept per candidate
    stages: list[StageConfig] = field(default_factory=list)  # cascade: cheap stages first
    score_bounds: list[float | None] = field(default_factory=list)  # [low, high]; outside = invalid
    reevaluate_top: int = 0         # re-evaluate this many elites with fresh seeds at the end
    resources: dict[str, float] = field(default_factory=dict)  # per evaluation on a cluster: cpus, gpus, memory_mb


@dataclass
class BudgetConfig:
    """When to stop. Any limit reached stops the run cleanly; resume with a larger one."""

    llm_calls: int | None = 20       # model calls (mutation purpose and others)
    proposals: int | None = None     # all proposals, model edits and zero-cost operators
    max_cost_usd: float | None = None
    max_tokens: int | None = None
    wall_clock_s: float | None = None


@dataclass
class AxisConfig:
    """One MAP-Elites axis: an evaluator metric or a built-in descriptor (code_length, edit_size)."""

    name: str = "code_length"
    min: float = 0.0
    max: float = 5000.0
    bins: int = 8


@dataclass
class SearchConfig:
    """Population and parent selection."""

    islands: int = 2
    parent_selection: str = "weighted"  # a rule of evoforge.search.selection's registry
    sharpness: float = 10.0          # lambda in sigmoid(lambda * (score - median) / MAD)
    inspirations: int = 2
    migration_interval: int = 10     # proposals between migrations (0 = never)
    novelty: bool = True
    novelty_threshold: float = 0.99  # MinHash similarity at or above which a model edit is a duplicate
    max_novelty_resamples: int = 2
    novelty_judge: bool = False      # ask the model whether a near-duplicate model edit is a new idea
    judge_threshold: float = 0.8     # MinHash similarity from which the judge is asked
    embedding_model: str | None = None   # an OpenAI-compatible embeddings model string: enables embedding novelty
    embedding_threshold: float = 0.98    # cosine similarity at or above which a model edit is a duplicate
    archive_size: int = 40           # programs kept per island (MAP-Elites cell owners are never trimmed)
    archive: str = "elitist"         # how an island keeps its programs: a policy of evoforge.search.archives
    beam_width: int = 4              # parent_selection: beam picks among this many best
    expansions_per_node: int = 3     # parent_selection: best_first expands a node this many times
    map_elites: list[AxisConfig] = field(default_factory=list)   # empty = no grid
    stagnation_limit: int = 0        # proposals without improvement before an island restarts from the best (0 = never)
    insights_interval: int = 0       # proposals between meta-scratchpad summaries (0 = off)
    own_islands: list[int] = field(default_factory=list)  # islands this controller works on (empty = all)
    sync_interval_s: float = 5.0     # a shared run: how often other controllers' programs are pulled in


@dataclass
class LLMConfig:
    """Which models write proposals and how they are called."""

    models: list[str] = field(default_factory=list)   # empty = the embedded model
    model_weights: dict[str, float] = field(default_factory=dict)  # prior weight per model (default equal)
    model_selection: Literal["thompson", "ucb1", "fixed"] = "thompson"  # bandit over the ensemble
    reward_per_cost: bool = False     # divide a model's reward by its cost per call
    temperature: float = 0.7
    temperatures: list[float] = field(default_factory=list)        # sampled per call when given
    reasoning_efforts: list[str] = field(default_factory=list)     # sampled per call when given (reasoning models)
    max_tokens: int = 512
    timeout_s: float = 180.0
    max_attempts: int = 4
    # model requests in flight per provider; null = evaluator.workers for hosted models, 1 for an
    # in-process model (embedded, local/*.gguf), which cannot serve two requests at once
    concurrency: int | None = None
    profile: Literal["auto", "small", "large"] = "auto"
    # per model string: provider options (context_length, supports_grammar, grammar_field,
    # supports_json_schema, timeout, extra_body, ...) and "profile" (small | large), which wins over llm.profile for that model
    model_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    constrained: Literal["auto", "always", "never"] = "auto"
    reasoning_effort: str | None = None
    prices: dict[str, list[float]] = field(default_factory=dict)  # model -> [usd/1M in, usd/1M out]


@dataclass
class MutationConfig:
    """Which kinds of proposal are made and how often (relative weights)."""

    # empty = the registry's default weights (evoforge.mutate.kinds) for the models' prompt
    # profile ("large" if any model is large)
    weights: dict[str, float] = field(default_factory=dict)
    adaptive: bool = True            # a bandit learns which kinds pay and shifts the weights
    diff_retries: int = 1            # in-conversation retries after a SEARCH that does not match
    fill_idle: bool = True           # zero-cost operator proposals fill evaluation slots the model leaves idle
    perturb_scale: float = 0.1       # the perturb operator's relative step size (evoforge.mutate.constants)


@dataclass
class SafetyConfig:
    """Checks inside the loop (see evoforge.safety)."""

    lint: Literal["flag", "block", "off"] = "flag"   # static lint of candidate code for cheating patterns
    quarantine_jumps: bool = True    # a score far beyond the trend is held for audit, not crowned
    jump_factor: float = 20.0        # ...when the gain exceeds this many typical gains
    min_history: int = 5             # improvements seen before jumps are judged
    overfit_gap: float = 0.2         # relative public-private gap that raises an alert
    integrity: bool = True           # stop the run if the evaluator or task files change
    compute_inflation_factor: float | None = 10.0  # flag a gain bought with this many times the parent's CPU (null = off)


@dataclass
class ObjectiveConfig:
    """One objective of a many-objective task: a metric of the evaluator's `Result.metrics` (a
    dotted name reads inside a mapping: `compute.cpu_s` is the CPU the sandbox measured; `score`
    is `Result.score`), its direction, and the reference point hypervolume is measured from (the
    worst value worth anything; required in pareto mode)."""

    name: str = ""
    direction: Literal["maximize", "minimize"] = "maximize"
    reference: float | None = None


@dataclass
class ProgramLimitsConfig:
    """How large a folder program (``program: src/``) may be: files, and bytes of all files together."""

    max_files: int = DEFAULT_MAX_FILES
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass
class Config:
    """Everything about one run. Task fields sit at the top level of ``task.yaml``."""

    name: str = "task"
    description: str = ""
    direction: Literal["maximize", "minimize"] = "maximize"
    program: str = "initial.py"      # a file, or a folder (its files are one program: evoforge.bundle)
    program_limits: ProgramLimitsConfig = field(default_factory=ProgramLimitsConfig)  # a folder program only
    entry: str | None = None         # a folder program: the module candidate.call imports (e.g. solver.main)
    build: list[str] = field(default_factory=list)  # argv candidate.build() runs in the sandbox (e.g. [make])
    language: str = "python"
    seed: int = 0
    strategy: str = "default"        # or a path to a strategy .py file (see evoforge.strategy)
    evaluator: EvaluatorConfig = field(default_factory=EvaluatorConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    search: SearchConfig = field(default_factory=SearchConfig)
    llm: LLMConfig = field(default_factory=LLMConfig)
    mutation: MutationConfig = field(default_factory=MutationConfig)
    safety: SafetyConfig = field(default_factory=SafetyConfig)
    objectives: list[ObjectiveConfig] = field(default_factory=list)  # empty = one objective, Result.score
    objective_mode: Literal["pareto", "lexicographic"] = "pareto"     # how several objectives are ranked

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def __getattr__(name: str) -> Any:
    """Old names, computed from the kind registry (evoforge.mutate.kinds) on each access so that
    a kind registered later is included: KNOWN_MUTATIONS (the configurable kinds) and
    DEFAULT_WEIGHTS (profile -> kind -> prior weight)."""
    if name == "KNOWN_MUTATIONS":
        return kind_registry.configurable_names()
    if name == "DEFAULT_WEIGHTS":
        return {profile: kind_registry.default_weights(profile) for profile in ("large", "small")}
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, where: str) -> Any:
    """Check `value` against annotation `tp`; return it (ints accepted for floats)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        args = get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
    if origin is Literal:
        if value not in get_args(tp):
            choices = ", ".join(repr(a) for a in get_args(tp))
            hint = difflib.get_close_matches(str(value), [str(a) for a in get_args(tp)], n=1)
            extra = f" (did you mean {hint[0]!r}?)" if hint else ""
            raise ConfigError(f"{where}: {value!r} is not one of {choices}{extra}")
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (item,) = get_args(tp) or (Any,)
        return [_coerce(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        kt, vt = get_args(tp) or (Any, Any)
        return {_coerce(k, kt, where): _coerce(v, vt, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, where)
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    raise ConfigError(f"{where}: unsupported type {tp}")  # pragma: no cover


def _build(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{where or 'config'}: expected a mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        path = f"{where}.{key}" if where else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.5)
            hint = f"; did you mean '{close[0]}'?" if close else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"unknown config key '{path}'{hint}")
        kwargs[key] = _coerce(value, hints[key], path)
    return cls(**kwargs)


def _validate(cfg: Config) -> None:
    def registered(path: str, value: str, registry: Any) -> None:
        """`value` names an entry of a registry module (its `names()` and `nearest()`)."""
        if value not in registry.names():
            close = registry.nearest(value)
            hint = f"; did you mean '{close}'?" if close else ""
            raise ConfigError(f"{path}: {value!r} is not one of {', '.join(registry.names())}{hint}")

    def positive(path: str, value: float | None, allow_zero: bool = False) -> None:
        if value is None:
            return
        if value < 0 or (value == 0 and not allow_zero):
            raise ConfigError(f"{path}: must be {'≥ 0' if allow_zero else '> 0'}, got {value!r}")

    positive("program_limits.max_files", cfg.program_limits.max_files)
    positive("program_limits.max_bytes", cfg.program_limits.max_bytes)
    if cfg.entry is not None and not all(part.isidentifier() for part in cfg.entry.split(".")):
        raise ConfigError(f"entry: {cfg.entry!r} is not a module name (dotted Python names, e.g. solver.main)")
    positive("evaluator.timeout", cfg.evaluator.timeout)
    positive("evaluator.workers", cfg.evaluator.workers)
    positive("evaluator.memory_mb", cfg.evaluator.memory_mb)
    positive("evaluator.disk_mb", cfg.evaluator.disk_mb)
    budget = cfg.evaluator.cpu_budget_s
    if budget is not None and not (0 < budget < float("inf")):
        raise ConfigError(f"evaluator.cpu_budget_s: must be a positive, finite number of CPU seconds (or null for "
                          f"no budget), got {budget!r}")
    for switch in ("warm", "warm_host"):
        if not isinstance(getattr(cfg.evaluator, switch), bool):
            raise ConfigError(f"evaluator.{switch}: must be true or false, got {getattr(cfg.evaluator, switch)!r}")
    positive("evaluator.host_evaluations", cfg.evaluator.host_evaluations)
    for level_key in ("isolation", "require_isolation"):
        level = getattr(cfg.evaluator, level_key)
        valid = (("auto", "bwrap", "landlock", "unshare", "none") if level_key == "isolation"
                 else ("bwrap", "landlock", "unshare", "none"))
        if level not in valid:
            raise ConfigError(f"evaluator.{level_key}: {level!r} is not one of {', '.join(valid)}")
    positive("budget.llm_calls", cfg.budget.llm_calls, allow_zero=True)
    positive("budget.proposals", cfg.budget.proposals, allow_zero=True)
    positive("budget.max_cost_usd", cfg.budget.max_cost_usd, allow_zero=True)
    positive("budget.max_tokens", cfg.budget.max_tokens, allow_zero=True)
    positive("budget.wall_clock_s", cfg.budget.wall_clock_s)
    positive("search.islands", cfg.search.islands)
    registered("search.archive", cfg.search.archive, archive_registry)
    positive("search.archive_size", cfg.search.archive_size)
    registered("search.parent_selection", cfg.search.parent_selection, selection_registry)
    for i in cfg.search.own_islands:
        if not 0 <= i < cfg.search.islands:
            raise ConfigError(f"search.own_islands: island {i} does not exist (the run has {cfg.search.islands})")
    positive("llm.max_tokens", cfg.llm.max_tokens)
    positive("llm.concurrency", cfg.llm.concurrency)
    if not 0 < cfg.search.novelty_threshold <= 1:
        raise ConfigError(f"search.novelty_threshold: must be in (0, 1], got {cfg.search.novelty_threshold}")
    weights = cfg.mutation.weights
    for kind, w in weights.items():
        known = kind_registry.configurable_names()
        if kind not in known:
            close = kind_registry.nearest(kind)
            hint = f"; did you mean '{close}'?" if close else f"; valid kinds: {', '.join(known)}"
            raise ConfigError(f"unknown mutation kind 'mutation.weights.{kind}'{hint}")
        if w < 0:
            raise ConfigError(f"mutation.weights.{kind}: must be ≥ 0, got {w}")
    if weights and not any(w > 0 for w in weights.values()):
        raise ConfigError("mutation.weights: at least one kind needs a positive weight")
    if not 0 < cfg.mutation.perturb_scale < math.inf:
        raise ConfigError(f"mutation.perturb_scale: must be a finite number > 0, got {cfg.mutation.perturb_scale!r}")
    for model, options in cfg.llm.model_options.items():
        # not checked against llm.models: --llm may swap the models of a task that configures several
        if "profile" in options and options["profile"] not in ("small", "large"):
            raise ConfigError(f"llm.model_options.{model}.profile: {options['profile']!r} is not 'small' or 'large'")
    bounds = cfg.evaluator.score_bounds
    if bounds and (len(bounds) != 2 or (None not in bounds and bounds[0] > bounds[1])):
        raise ConfigError(f"evaluator.score_bounds: expected [low, high] (null for open), got {bounds!r}")
    positive("safety.jump_factor", cfg.safety.jump_factor)
    factor = cfg.safety.compute_inflation_factor
    if factor is not None and not (factor > 1 and factor != float("inf")):
        raise ConfigError(f"safety.compute_inflation_factor: must be a finite number > 1 (how many times the parent's "
                          f"CPU), or null to turn the check off; got {factor!r}")
    for model, w in cfg.llm.model_weights.items():
        if model not in cfg.llm.models:
            raise ConfigError(f"llm.model_weights.{model}: not one of llm.models {cfg.llm.models}")
        if w < 0:
            raise ConfigError(f"llm.model_weights.{model}: must be ≥ 0, got {w}")
    for model, price in cfg.llm.prices.items():
        if len(price) != 2:
            raise ConfigError(f"llm.prices.{model}: expected [usd_per_1M_input, usd_per_1M_output], got {price!r}")
    _validate_objectives(cfg)


MAX_PARETO_OBJECTIVES = 4   # exact hypervolume costs O(N^(d-1)): past four objectives it is too slow to report


def _validate_objectives(cfg: Config) -> None:
    """The `objectives:` section: names, directions, references, and the rules that need them."""
    objectives = cfg.objectives
    if not objectives:
        return
    if len(objectives) < 2:
        raise ConfigError("objectives: give at least two (a task with one objective uses Result.score and no "
                          "`objectives:` section)")
    if cfg.objective_mode == "pareto" and len(objectives) > MAX_PARETO_OBJECTIVES:
        raise ConfigError(f"objectives: pareto mode supports at most {MAX_PARETO_OBJECTIVES} objectives (exact "
                          f"hypervolume), got {len(objectives)}; rank them with objective_mode: lexicographic")
    if cfg.direction != "maximize":
        raise ConfigError("direction: with `objectives:` each objective has its own direction; remove the top-level "
                          "`direction: minimize` (the engine's ranking score is always higher-is-better)")
    seen: set[str] = set()
    for i, obj in enumerate(objectives):
        where = f"objectives[{i}]"
        name = obj.name.strip()
        if not name:
            raise ConfigError(f"{where}.name: an objective needs the name of a metric of Result.metrics "
                              "(or 'score', or a dotted path such as 'compute.cpu_s')")
        if name != obj.name or any(part == "" for part in name.split(".")):
            raise ConfigError(f"{where}.name: {obj.name!r} is not a metric name (no spaces around it, no empty "
                              "part in a dotted path)")
        if name in seen:
            raise ConfigError(f"{where}.name: objective {name!r} is listed twice")
        seen.add(name)
        ref = obj.reference
        if ref is not None and not math.isfinite(ref):
            raise ConfigError(f"{where}.reference: must be a finite number, got {ref!r}")
        if ref is None and cfg.objective_mode == "pareto":
            raise ConfigError(f"{where}.reference: pareto mode needs a reference for every objective (the worst "
                              f"{name} worth anything: hypervolume is measured from it)")


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and k not in ("weights", "prices"):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def dotted_to_nested(overrides: dict[str, Any]) -> dict[str, Any]:
    """``{"budget.llm_calls": 5}`` -> ``{"budget": {"llm_calls": 5}}``."""
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def load_config(data: dict[str, Any] | None, overrides: dict[str, Any] | None = None) -> Config:
    """Validate a raw mapping (from YAML) plus overrides (nested or dotted keys) into a Config."""
    raw = dict(data or {})
    if overrides:
        raw = _merge(raw, dotted_to_nested(overrides) if any("." in k for k in overrides) else overrides)
    cfg = _build(Config, raw, "")
    _validate(cfg)
    return cfg


def parse_override(text: str) -> tuple[str, Any]:
    """Parse a CLI ``--set key.path=value`` override; the value is read as YAML."""
    import yaml

    if "=" not in text:
        raise ConfigError(f"--set expects KEY=VALUE, got {text!r}")
    key, _, raw = text.partition("=")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {key}: cannot read value {raw!r}: {exc}") from None
    return key.strip(), value
