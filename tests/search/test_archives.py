"""Archive policies are one registry of small classes: config, population and engine read it."""
from __future__ import annotations

import random

import pytest

import evoforge
from evoforge.config import load_config
from evoforge.errors import ConfigError
from evoforge.program import Attempt, AttemptStatus
from evoforge.search import archives
from evoforge.search.population import Population
from evoforge.storage import open_storage
from evoforge.testing.tasks import write_task


def _ok(i: int, score: float, island: int = 0) -> Attempt:
    return Attempt(run_id="r", code=f"x = {i}", id=f"a{i}", status=AttemptStatus.OK, score=score, island=island,
                   generation=i)


def test_the_default_policy_keeps_the_fittest_and_reports_new_bests():
    pop = Population(1, archive_size=3)
    improved = [pop.add(_ok(i, s)) for i, s in enumerate([5.0, 1.0, 7.0, 3.0, 6.0, 0.5])]
    assert improved == [True, False, True, False, False, False]
    assert set(pop.islands[0].members) == {"a0", "a2", "a4"}
    assert pop.islands[0].proposals_since_improvement == 3
    assert isinstance(pop.archive, archives.Elitist) and archives.names()[0] == "elitist"


def test_unknown_policy_is_a_config_error_naming_the_nearest():
    with pytest.raises(ConfigError, match=r"search.archive: 'elitst'.*did you mean 'elitist'"):
        load_config({"search": {"archive": "elitst"}})
    with pytest.raises(ConfigError, match="search.archive_size"):
        load_config({"search": {"archive_size": 0}})
    with pytest.raises(KeyError, match="did you mean 'elitist'"):
        archives.create("elitst", 4)


class _Newest(archives.ArchivePolicy):
    """Keeps the most recent programs whatever their fitness (a test-only policy)."""

    name = "test_newest"

    def admit(self, island, member):
        island.members[member.id] = member
        while len(island.members) > self.size:
            del island.members[next(iter(island.members))]
        return archives.record(island, member.fitness)


def test_a_new_policy_is_one_class_used_by_a_real_run(tmp_path):
    archives.register(_Newest)
    try:
        with pytest.raises(ValueError, match="already registered"):
            archives.register(type("Clash", (_Newest,), {"name": "elitist"}))
        pop = Population(1, archive_size=2, archive="test_newest")
        for i, s in enumerate([9.0, 1.0, 2.0]):
            pop.add(_ok(i, s))
        assert list(pop.islands[0].members) == ["a1", "a2"]     # the best (a0) is gone: this policy's choice
        task = write_task(tmp_path / "task")
        result = evoforge.run(task, llm="embedded", run_dir=tmp_path / "run",
                              overrides={"search.archive": "test_newest", "search.archive_size": 2,
                                         "search.islands": 1, "budget.proposals": 6, "budget.llm_calls": None,
                                         "mutation.weights": {"perturb": 1.0}})
        store = open_storage(result.storage_url, read_only=True)
        try:
            attempts = store.attempts(result.run_id)
        finally:
            store.close()
        assert len(attempts) >= 6 and all(a.status is not AttemptStatus.PENDING for a in attempts)
    finally:
        archives.unregister("test_newest")
    with pytest.raises(ConfigError):
        load_config({"search": {"archive": "test_newest"}})


def test_selection_sees_only_what_the_archive_kept():
    pop = Population(1, archive_size=2)
    for i, s in enumerate([1.0, 2.0, 3.0]):
        pop.add(_ok(i, s))
    rng = random.Random(0)
    assert {pop.select_parent(0, rng, "uniform").id for _ in range(50)} == {"a1", "a2"}
