"""Studies created with scheduler/searcher *objects* resume from the stored settings."""

from __future__ import annotations

import pytest

import hpo
from hpo.errors import HPOError
from hpo.schedulers import ASHA, FIFOScheduler
from hpo.search_spaces import Float, SearchSpace
from hpo.searchers import BOSearcher, RandomSearcher
from hpo.testing import objectives
from hpo.trial import TrialStatus

SPACE = SearchSpace({"x": Float(0.0, 1.0)})


def test_objects_are_rebuilt_with_their_arguments(tmp_path):
    path = tmp_path / "objects.db"
    searcher = BOSearcher(SPACE, seed=3, acquisition="ucb", n_init=4, failed="ignore")
    study = hpo.Study.create(objectives.curve, SPACE, budget=hpo.Budget(1, 9), scheduler=ASHA(searcher, eta=2, min_early_stopping_rate=1),
                             storage=path, executor="inprocess")
    before = len(study.optimize(n_trials=6).trials)
    study.close()
    again = hpo.Study.load(path, executor="inprocess")
    try:
        sched, search = again.scheduler, again.scheduler.searcher
        assert type(sched) is ASHA and (sched.eta, sched.min_early_stopping_rate) == (2.0, 1)
        assert type(search) is BOSearcher and (search.acquisition, search.n_init, search.failed, search.seed) == ("ucb", 4, "ignore", 3)
        assert search.n_observed == len(again.storage.observations()) > 0  # the history was replayed
        result = again.optimize(n_trials=9)
        assert result.counts().get("FAILED", 0) == 0 and len(result.trials) > before
    finally:
        again.close()


def test_tune_with_a_surrogate_name_resumes(tmp_path):
    path = tmp_path / "surrogate.db"
    f = hpo.tune(space={"x": Float(0.0, 1.0)}, surrogate="gp")(objectives.quadratic)
    f.run(n_trials=3, executor="inprocess", storage=str(path), seed=0)
    study = hpo.Study.load(path, executor="inprocess")
    try:
        assert type(study.scheduler) is FIFOScheduler and type(study.scheduler.searcher) is BOSearcher
        assert study.spec.settings["surrogate"] == "gp"
    finally:
        study.close()


def test_an_object_that_cannot_be_rebuilt_says_what_to_pass(tmp_path):
    class MySearcher(RandomSearcher):  # defined in a function: not importable on resume
        pass

    path = tmp_path / "local.db"
    study = hpo.Study.create(objectives.quadratic, SPACE, searcher=MySearcher(SPACE, 0), storage=path, executor="inprocess")
    study.optimize(n_trials=2)
    study.close()
    with pytest.raises(HPOError, match=r"MySearcher.*cannot be rebuilt.*searcher=\.\.\."):
        hpo.Study.load(path, executor="inprocess")
    again = hpo.Study.load(path, executor="inprocess", searcher=MySearcher(SPACE, 1))  # the fix it names
    try:
        result = again.optimize(n_trials=3)
        assert [t.status for t in result.trials] == [TrialStatus.COMPLETED] * 3
    finally:
        again.close()
