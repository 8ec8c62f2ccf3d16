"""The ask/tell core (after Optuna's ``Study.ask/tell``).

``ask()`` chooses a parent and a kind of proposal, produces the child's code (calling the model
or an operator) and stores it as a *pending* attempt; ``tell()`` records its evaluation. Between
the two nothing is shared but the stored attempt, so a crash at any moment loses at most the
work in flight, and a resumed run re-evaluates pending attempts instead of paying for them again.
"""
from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass
from collections.abc import Callable
from typing import Any

from ..config import Config
from ..llm.base import ProviderBase
from ..mutate.edits import unified_diff
from ..mutate.prompts import profile_for
from ..errors import UserError
from ..program import Attempt, AttemptStatus, LLMCallRecord
from ..safety import ResultGuard, TaskIntegrity
from ..sandbox import Evaluation
from ..mutate import kinds as kind_registry
from ..search import selection
from ..search.kinds import KindPolicy
from ..search.novelty import NoveltyFilter
from ..search.population import Axis, Population
from ..storage.base import RunInfo, Storage
from ..strategy import load_strategy
from ..task import Task
from .auxiliary_calls import AuxiliaryCalls, cost_of
from .budget import Budget
from .compute import feedback_for, flag_inflation, record_cost
from .gates import NoveltyIndexes, ProposalGates
from .objectives import Objectives
from .plan import ParentNotes, ProposalPlan, plan_proposal
from .proposer import ChildDraft, ModelRequest, ParentView, model_child, operator_child
from . import snapshot
from .restore import restore_run
from .scratchpad import Scratchpad
from .shared_run import SharedRun

STATUS_OF_EVALUATION = {
    "ok": AttemptStatus.OK,
    "invalid": AttemptStatus.INVALID,
    "error": AttemptStatus.ERROR,
    "timeout": AttemptStatus.TIMEOUT,
}


@dataclass
class Proposal:
    """One attempt on its way: evaluate it if ``needs_evaluation``, then ``tell`` the engine."""

    attempt: Attempt
    parent_fitness: float | None = None

    @property
    def needs_evaluation(self) -> bool:
        return self.attempt.status is AttemptStatus.PENDING


class Engine:
    """Ask/tell evolutionary search over one run. Thread-safe: workers call ask/tell concurrently.

    Composed of small parts, each given only what it reads: the population (islands, archives)
    and its parent `selector` (a rule of `evoforge.search.selection`), the kind bandit, the
    novelty `indexes` and the `gates` that use them, `aux` (model calls that are not proposals),
    the budget, the result guard and the task-integrity check. The engine itself plans each
    proposal under one lock and keeps the run's counters.
    """

    CHECKPOINT_EVERY = 500   # finished attempts between two stored population snapshots (snapshot.py)

    def __init__(self, task: Task, storage: Storage, run: RunInfo, providers: dict[str, ProviderBase], *,
                 model_chooser: Any = None, restore_snapshot: bool = True) -> None:
        self.task = task
        self.cfg: Config = task.config
        self.storage = storage
        self.run = run
        self.providers = providers
        self.model_chooser = model_chooser
        search = self.cfg.search
        self.population = self._new_population()
        self.selector = selection.create(search.parent_selection, selection.SelectionSettings(
            sharpness=search.sharpness, beam_width=search.beam_width, expansions_per_node=search.expansions_per_node))
        self.strategy = load_strategy(self.cfg.strategy, task.path)
        weights = self.strategy.mutation_weights(dict(self.cfg.mutation.weights or self.default_weights()))
        if not providers:  # a run with no model (session.may_ask_model): only zero-cost operators can run
            weights = {k: w for k, w in weights.items() if not kind_registry.is_model_kind(k)}
        self.kinds = KindPolicy(weights, adaptive=self.cfg.mutation.adaptive)
        self.indexes = NoveltyIndexes.from_config(self.cfg)
        self.guard = ResultGuard(self.cfg)
        self.scratchpad = Scratchpad(search.insights_interval, storage, run.id)
        self.integrity = TaskIntegrity(task.path) if self.cfg.safety.integrity else None
        self._check_fingerprint()
        self.share = SharedRun(self.cfg, storage, run.id, maximize=task.maximize)
        self._lock = threading.RLock()
        self.notes = ParentNotes()
        self.listeners: list[Callable[[Attempt], None]] = []
        self.in_flight = 0
        self.stop_reason = ""
        self._insights_busy = False
        self._local_count = 0
        self._initial_in_flight: str | None = None   # the initial program's id while it is evaluated
        self._unsaved: set[int] = set()   # proposal indexes allocated, not stored yet: no snapshot covers them
        self._finished = 0
        self._checkpointing = threading.Lock()
        self._shared_ceiling = -1   # a shared run: the run's next index at the previous checkpoint, less one
        restored = restore_run(storage, run.id, maximize=task.maximize, population=self.population, guard=self.guard,
                               indexes=self.indexes, owned=self.share.owned, shared=self.share.shared,
                               snapshot_key=self.share.key(snapshot.KEY), use_snapshot=restore_snapshot)
        self.restored = restored
        self._next_index = restored.next_index
        self._pending: list[Attempt] = restored.pending
        self.share.known = restored.known
        self.best: Attempt | None = restored.best
        self.budget = Budget(self.cfg.budget, restored.usage)
        self.objectives = Objectives.from_config(self.cfg)   # None: a single-objective task
        if self.objectives is not None:
            self.objectives.bind(self.selector)
            top = self.objectives.restore(storage.attempts(run.id, status=AttemptStatus.OK, with_code=False))
            self.best = (storage.get_attempt(top.id) if top is not None else None) or self.best
        self._load_state()
        self.aux = AuxiliaryCalls(providers, self.budget, storage, run.id, max_tokens=self.cfg.llm.max_tokens,
                                  profile_of=self.profile_of)
        self.gates = ProposalGates(self.cfg, storage, run.id, self.indexes, judge_call=self.aux.ask, lock=self._lock)
        self.listeners.append(self.strategy.observe)
        self.strategy.bind(self.aux.ask)

    @property
    def novelty(self) -> NoveltyFilter:
        """The near-duplicate (MinHash) index of the run's programs."""
        return self.indexes.novelty

    def _new_population(self) -> Population:
        search = self.cfg.search
        axes = [Axis(a.name, a.min, a.max, a.bins) for a in search.map_elites]
        return Population(search.islands, maximize=self.task.maximize, archive_size=search.archive_size,
                          axes=axes, expansions_per_node=search.expansions_per_node, archive=search.archive)

    def checkpoint(self) -> bool:
        """Store a population snapshot up to the last proposal index below which every attempt is
        stored and finished, so a resume (after Ctrl-C or kill -9) replays only what came after.
        Built from the previous snapshot and the stored rows, as a resume would (not from the live
        population, whose migrations and resets a resume does not replay). True when one was stored."""
        if not self._checkpointing.acquire(blocking=False):
            return False   # another thread is taking one
        try:
            with self._lock:
                ceiling = min(self._unsaved) - 1 if self._unsaved else self._next_index - 1
            if self.share.shared:   # others' indexes allocated before the previous checkpoint are stored by now, mostly
                ceiling, self._shared_ceiling = min(ceiling, self._shared_ceiling), \
                    int(self.storage.get_state(self.run.id, "next_index", 0) or 0) - 1
            return snapshot.advance(self.storage, self.run.id, self.share.key(snapshot.KEY),
                                    snapshot.Replay(self._new_population(), ResultGuard(self.cfg)), ceiling)
        finally:
            self._checkpointing.release()

    def _check_fingerprint(self) -> None:
        if self.integrity is None:
            return
        stored = self.storage.get_state(self.run.id, "task_fingerprint")
        current = self.integrity.fingerprint()
        if stored is None:
            self.storage.set_state(self.run.id, "task_fingerprint", current)
        elif stored != current:
            raise UserError(f"the task files of run {self.run.name} ({self.task.path}) changed since the run started; "
                            "its scores would not be comparable. Start a new run instead.")

    # -- state ---------------------------------------------------------------------------
    def _load_state(self) -> None:
        """The learned state of the run's adaptive parts (kind bandit, strategy, model chooser)."""
        self.kinds.load_state(self.storage.get_state(self.run.id, self.share.key("kinds")))
        strategy_state = self.storage.get_state(self.run.id, self.share.key("strategy"))
        if strategy_state is not None:
            self.strategy.load_state(strategy_state)
        if self.model_chooser is not None:
            self.model_chooser.load_state(self.storage.get_state(self.run.id, self.share.key("models")))

    def save_state(self) -> None:
        self.checkpoint()
        self.storage.set_state(self.run.id, self.share.key("kinds"), self.kinds.state())
        strategy_state = self.strategy.state()
        if strategy_state is not None:
            self.storage.set_state(self.run.id, self.share.key("strategy"), strategy_state)
        if self.model_chooser is not None:
            self.storage.set_state(self.run.id, self.share.key("models"), self.model_chooser.state())

    def _adopt(self, a: Attempt) -> None:
        """A program another controller of a shared run made."""
        self.population.add(a)
        self.indexes.remember(a)
        if self.objectives is not None:
            self.objectives.add(a)
        if self.best is None or self.population.fitness(a.score) > self.population.fitness(self.best.score):
            self.best = a

    # -- ask -----------------------------------------------------------------------------
    def ask(self, *, operators_only: bool = False, models_only: bool = False,
            ahead_of_initial: bool = False) -> Proposal | None:
        """The next proposal, or None when there is nothing to do *now*.

        When None is returned, `stop_reason` says whether the run is over; if it is empty, work in
        flight (the initial program's evaluation, say) must finish before more can be proposed.
        `operators_only` (an evaluation slot the model leaves idle) proposes only a zero-cost
        operator, and nothing at all while no valid program exists to apply one to; `models_only`
        (a model slot, while idle evaluation slots make the operators) a model edit, if any is enabled.
        `ahead_of_initial` lets a model edit of the initial program start while that program is
        still being evaluated (its prompt then has no score): a run whose evaluations take minutes
        does not leave the model idle for the first one. Not in lockstep runs (reproducibility).
        """
        with self._lock:
            if self._pending:
                self.in_flight += 1
                attempt = self._pending.pop(0)
                if attempt.mutation == "initial":
                    self._initial_in_flight = attempt.id
                return Proposal(attempt)
            if self._next_index == 0:  # an empty run: whoever allocates index 0 proposes the initial program
                first = self.storage.allocate_index(self.run.id)
                self._next_index = first + 1
                if first == 0:
                    self.in_flight += 1
                    return self._initial()
            self.share.pull(self.budget, self._adopt, force=not self.population.has_programs() and not self.population.broken)
            if self.budget.done():
                self.stop_reason = self.budget.stop_reason
                return None
            early = None   # the initial program, still being evaluated, as the parent
            if not (self.population.has_programs() or self.population.broken):
                early = self._initial_in_flight if ahead_of_initial else None
                if early is None:
                    if self.in_flight == 0:
                        self.stop_reason = "nothing to build on: no program was stored"
                    return None
            operators = {k for k in self.kinds.weights if not kind_registry.is_model_kind(k)}
            if operators_only and not (operators and self.population.has_programs()):
                return None
            index = self.storage.allocate_index(self.run.id)  # unique across controllers sharing the run
            self._unsaved.add(index)
            rng = random.Random(self.cfg.seed * 1_000_003 + index)
            allowed = None if self.population.has_programs() else set(kind_registry.model_kind_names())  # nothing valid: only a model repairs
            allowed = operators if operators_only else allowed
            model_kinds = {k for k in self.kinds.weights if kind_registry.is_model_kind(k)}
            if models_only and model_kinds:
                allowed = model_kinds if allowed is None else allowed & model_kinds
            kind = self.kinds.choose(rng, allowed)
            if kind is None:
                self._unsaved.discard(index)
                if self.in_flight == 0:
                    self.stop_reason = "no valid program yet and no model edits enabled to repair the broken ones"
                return None
            needs_llm = kind_registry.is_model_kind(kind)
            if not self.budget.reserve(needs_llm):
                kind = self.kinds.choose(rng, operators) if (needs_llm and operators and allowed is None) else None
                if kind is None or not self.budget.reserve(False):
                    self._unsaved.discard(index)
                    # calls in flight may spend what is left of a cost or token budget: ask again when they land
                    if self.budget.done() or (kind is None and not self.budget.waiting_for_spend()):
                        self.stop_reason = self.budget.stop_reason or "model-call budget reached"
                    return None
                needs_llm = False
            self._next_index = max(self._next_index, index + 1)
            self._local_count += 1
            self.in_flight += 1
            island = self.share.island_for(self._local_count)
            if early is not None:
                plan = ProposalPlan(kind, island, early, None, 1, index)
            else:
                plan = plan_proposal(self.population, self.selector, self.strategy, kind=kind, island=island,
                                     rng=rng, index=index, inspirations=self.cfg.search.inspirations)
            update_insights = self.scratchpad.due(index) and not self._insights_busy
            self._insights_busy = self._insights_busy or update_insights
        try:
            if update_insights:
                self._update_insights(index)
            return self._produce(plan, rng, needs_llm)
        except BaseException:
            with self._lock:
                self.in_flight -= 1
                self._unsaved.discard(index)
            raise

    def _initial(self) -> Proposal:
        self._next_index = 1
        attempt = Attempt(run_id=self.run.id, code=self.task.initial_code, mutation="initial", proposal_index=0)
        self.storage.save_attempt(attempt)
        self._initial_in_flight = attempt.id
        return Proposal(attempt)

    def _view(self, attempt_id: str) -> ParentView:
        a = self.storage.get_attempt(attempt_id)
        assert a is not None and a.code is not None, f"program {attempt_id} has no code"
        feedback = a.feedback if a.is_program else (a.reason or a.feedback)
        return ParentView(a.id, a.code, a.score, feedback_for(a, feedback))

    def _update_insights(self, index: int) -> None:
        try:
            self.aux.update_insights(self.scratchpad, index, maximize=self.task.maximize,
                                     task_description=self.cfg.description,
                                     best_feedback=self.best.feedback if self.best else "")
        finally:
            self._insights_busy = False

    def _produce(self, plan: ProposalPlan, rng: random.Random, needs_llm: bool) -> Proposal:
        kind, index = plan.kind, plan.index
        parent = self._view(plan.parent)
        inspirations = [self._view(i) for i in plan.inspirations]
        other = inspirations[0] if inspirations else None
        rejected: list[str] = []
        for _ in range(1 + (0 if needs_llm else self.cfg.search.max_novelty_resamples)):
            if needs_llm:
                draft = self._ask_model(kind, parent, inspirations, other, index, rng)
                llm_used = len(draft.calls)
                self.budget.release(max(0, 1 - llm_used), proposal=False)  # a call never made gives its slot back
            else:
                draft = operator_child(kind, parent, other, rng, self.cfg.language, self.cfg.mutation.perturb_scale)
            attempt = self._attempt_from(draft, plan, parent, inspirations)
            if attempt.status is not AttemptStatus.DUPLICATE:
                break
            # an operator is free to try again: resample, keeping the reasons of what was rejected
            rejected.append(attempt.reason)
        if rejected:
            attempt.metrics["novelty_resamples"] = rejected
        self.budget.record_proposal(operator=not needs_llm)
        for call in draft.calls:
            self.storage.add_llm_call(dataclasses.replace(call, run_id=self.run.id, attempt_id=attempt.id))
        self.storage.save_attempt(attempt, self.indexes.fingerprint_of(attempt))
        with self._lock:
            self._unsaved.discard(index)
        if attempt.status is not AttemptStatus.PENDING:
            self._finish(attempt, plan.fitness)
        return Proposal(attempt, plan.fitness)

    def _attempt_from(self, draft: ChildDraft, plan: ProposalPlan, parent: ParentView,
                      inspirations: list[ParentView]) -> Attempt:
        """An attempt from a draft, linted and checked for novelty."""
        attempt = Attempt(
            run_id=self.run.id, code=draft.code, status=draft.status, parent_id=parent.id,
            inspiration_ids=[p.id for p in inspirations], island=plan.island, generation=plan.generation,
            mutation=plan.kind, model=draft.model, reason=draft.reason, prompt=draft.prompt, response=draft.response,
            input_tokens=sum(c.input_tokens for c in draft.calls), output_tokens=sum(c.output_tokens for c in draft.calls),
            proposal_index=plan.index,
        )
        if attempt.code is not None:
            attempt.diff = unified_diff(parent.code, attempt.code)
        if attempt.status is AttemptStatus.PENDING:
            self.gates.lint(attempt, parent.code)
        if attempt.status is AttemptStatus.PENDING:
            self.gates.novelty_check(attempt)
        return attempt

    def _ask_model(self, kind: str, parent: ParentView, inspirations: list[ParentView], other: ParentView | None,
                   index: int, rng: random.Random) -> ChildDraft:
        model = self.model_chooser.choose(rng) if self.model_chooser else next(iter(self.providers))
        provider = self.providers[model]
        llm = self.cfg.llm
        profile = self.profile_of(model)
        # constrained decoding needs a GBNF grammar or a JSON schema the server enforces
        can_constrain = provider.supports_grammar or provider.supports_json_schema
        constrained = can_constrain and (
            llm.constrained == "always" or (llm.constrained == "auto" and profile == "small")
        )
        if profile == "small":
            inspirations = inspirations[:1]
        notes = self.notes
        repeats = notes.repeats.get(parent.id, 0)
        req = ModelRequest(
            kind=kind_registry.resolve(kind, has_second_parent=other is not None),
            parent=parent, inspirations=inspirations,
            other=other if kind_registry.get(kind).needs_second_parent else None,
            task_description=self.cfg.description, direction=self.cfg.direction, language=self.cfg.language,
            profile=profile,
            temperature=self.strategy.temperature(rng.choice(llm.temperatures) if llm.temperatures else llm.temperature, repeats),
            max_tokens=min(llm.max_tokens, 384) if profile == "small" else llm.max_tokens,
            seed=(self.cfg.seed * 7_919 + index * 17) % (2**31 - 1), constrained=constrained,
            insights=list(self.scratchpad.insights), failure_note=notes.last_failure.get(parent.id),
            diff_retries=self.cfg.mutation.diff_retries,
            tweaked_lines=notes.tweaked.setdefault(parent.id, set()),
            reasoning_effort=rng.choice(llm.reasoning_efforts) if llm.reasoning_efforts else None,
        )
        seen = notes.seen_replies.setdefault(parent.id, set())
        draft = model_child(
            req, provider, cost_of=cost_of, allow_extra_call=lambda: self.budget.try_extra_llm_call(),
            on_call=lambda c: self._on_model_call(c),
            seen_replies=seen, strategy=self.strategy,
        )
        if draft.status is AttemptStatus.DUPLICATE:  # the model repeats itself: vary the sampling
            notes.repeats[parent.id] = repeats + 1
        return draft

    def profile_of(self, spec: str) -> str:
        """The prompt profile of one model: its llm.model_options entry, else llm.profile, else guessed
        from its context length and name."""
        chosen = self.cfg.llm.model_options.get(spec, {}).get("profile") or self.cfg.llm.profile
        if chosen != "auto":
            return str(chosen)
        provider = self.providers[spec]
        return profile_for(provider.context_length, provider.name or spec)

    def default_weights(self) -> dict[str, float]:
        """Prior kind weights when the config sets none: for small models unless any model is large."""
        profiles = {self.profile_of(spec) for spec in self.providers} or {"large"}
        return kind_registry.default_weights("large" if "large" in profiles else "small")

    def _on_model_call(self, call: LLMCallRecord) -> None:
        self.budget.record_llm_call(call.input_tokens + call.output_tokens, call.cost_usd)
        if self.model_chooser is not None:
            self.model_chooser.record_cost(call.model, call.cost_usd)

    # -- tell ----------------------------------------------------------------------------
    def tell(self, proposal: Proposal, evaluation: Evaluation) -> Attempt:
        """Record the evaluation of a pending proposal."""
        a = proposal.attempt
        a.status = STATUS_OF_EVALUATION.get(evaluation.status, AttemptStatus.ERROR)
        a.reason = "" if a.status is AttemptStatus.OK else (evaluation.reason or a.status.value)
        a.stdout, a.stderr, a.eval_seconds = evaluation.stdout or "", evaluation.stderr or "", evaluation.seconds
        result = evaluation.result
        if result is not None:
            a.feedback = result.feedback or ""
            a.metrics = {**a.metrics, **dict(result.metrics or {})}
            a.private_score = result.private_score
            if a.status is AttemptStatus.OK:
                a.score = result.score
        record_cost(a, evaluation)  # after the evaluator's metrics: the measurement wins
        if a.code is not None:  # built-in behaviour descriptors, kept so a resumed run rebuilds its grid
            a.metrics.setdefault("code_length", len(a.code))
            a.metrics.setdefault("edit_size", sum(1 for line in a.diff.splitlines()
                                                  if line[:1] in "+-" and not line.startswith(("+++", "---"))))
        if self.objectives is not None:  # many objectives: read them, score = the ranking score (objectives.py)
            self.objectives.apply(a)
        if a.status is AttemptStatus.OK and a.score is not None:
            verdict = self.guard.judge(a.score, a.private_score, initial=a.mutation == "initial")
            if verdict.status == "invalid":
                a.status, a.reason, a.metrics["rejected_score"], a.score = AttemptStatus.INVALID, verdict.reason, a.score, None
            elif verdict.status == "quarantined":
                a.status, a.reason = AttemptStatus.QUARANTINED, verdict.reason
                a.metrics["quarantined_score"] = a.score
                self.storage.add_event(self.run.id, "quarantine", {"id": a.id, "score": a.score, "reason": verdict.reason})
            if verdict.alert:
                self.storage.add_event(self.run.id, "alert", {"kind": "overfitting", "id": a.id, "message": verdict.alert})
        parent_fitness = proposal.parent_fitness
        if parent_fitness is None and a.parent_id:  # proposed ahead of its parent's score: known by now
            parent_fitness = self.population.fitness_of(a.parent_id)
        if a.is_program and parent_fitness is not None:
            a.metrics["improved_parent"] = self.population.fitness(a.score) > parent_fitness
            flag_inflation(a, a.metrics["improved_parent"], self.storage, self.cfg.safety.compute_inflation_factor)
        self.storage.save_attempt(a, self.indexes.fingerprint_of(a))
        self._finish(a, parent_fitness)
        return a

    def _finish(self, a: Attempt, parent_fitness: float | None) -> None:
        with self._lock:
            self.in_flight -= 1
            if a.id == self._initial_in_flight:
                self._initial_in_flight = None
            self.population.add(a)
            self.share.note(a.id)
            if a.is_program:
                self.indexes.remember(a)
                if self.objectives is not None:
                    self.objectives.add(a)
                if self.best is None or (self.objectives.better(a, self.best) if self.objectives is not None else
                                         self.population.fitness(a.score) > self.population.fitness(self.best.score)):
                    self.best = a
                    self.storage.add_event(self.run.id, "new_best", {"id": a.id, "score": a.score, "index": a.proposal_index})
            elif a.parent_id and a.reason:
                self.notes.last_failure[a.parent_id] = f"A previous attempt from this program failed: {a.reason[:300]}"
            if a.mutation != "initial":
                improved = a.is_program and parent_fitness is not None and self.population.fitness(a.score) > parent_fitness
                kind = a.mutation if a.mutation in self.kinds.stats else None
                if kind:
                    self.kinds.update(kind, valid=a.is_program, improved=improved)
                if self.model_chooser is not None and a.model:
                    self.model_chooser.update(a.model, 1.0 if improved else (0.2 if a.is_program else 0.0))
            for index in self.population.stagnant_islands(self.cfg.search.stagnation_limit):
                seed_id = self.population.reset_island(index)
                if seed_id:
                    self.storage.add_event(self.run.id, "island_reset", {"island": index, "from": seed_id})
            interval = self.cfg.search.migration_interval
            if interval and a.proposal_index > 0 and a.proposal_index % interval == 0:
                moves = self.population.migrate(random.Random(a.proposal_index))
                if moves:
                    self.storage.add_event(self.run.id, "migration", {"moves": moves})
            self._finished += 1
            due = self._finished % self.CHECKPOINT_EVERY == 0
        if due:
            self.checkpoint()
        for listener in self.listeners:
            listener(a)

    # -- reporting -----------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        u = self.budget.usage
        return {
            "proposals": u.proposals, "llm_calls": u.llm_calls, "operator_proposals": u.operator_proposals,
            "tokens": u.tokens, "cost_usd": u.cost_usd,
            "best_score": self.best.score if self.best else None, "best_id": self.best.id if self.best else None,
        }
