"""LCStopping: the stopping rule (with a stub predictor, to isolate it), and real studies
with an (untrained, tiny) LC-PFN alone and around ASHA."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from hpo.budget import Budget
from hpo.errors import HPOError
from hpo.schedulers import ASHA, Hyperband, LCStopping
from hpo.search_spaces import Float, SearchSpace
from hpo.searchers import RandomSearcher
from hpo.study import Study
from hpo.testing import SchedulerContract
from hpo.trial import TrialStatus

pytest.importorskip("torch")

from hpo.surrogates.lcpfn import LCPFN  # noqa: E402

TINY = LCPFN.untrained(seed=0)


class TestLCStoppingContract(SchedulerContract):
    def make_scheduler(self, searcher, budget):
        return LCStopping(searcher, model=TINY, min_steps=2)


class TestLCStoppingAroundASHAContract(SchedulerContract):
    def make_scheduler(self, searcher, budget):
        return LCStopping(searcher, base=ASHA(searcher, eta=3), model=TINY, min_steps=2)


class TestLCStoppingAroundHyperbandContract(SchedulerContract):
    def make_scheduler(self, searcher, budget):
        return LCStopping(searcher, base=Hyperband(searcher, eta=3), model=TINY, min_steps=2)


class Oracle:
    """Stub predictor: a curve whose last value is below 0.5 has no chance (isolates the rule)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []

    def prob_improvement(self, x, y, x_final, threshold, maximize, y_range):
        self.calls.append((x, y, x_final, threshold, maximize))
        return np.array([0.01 if c[-1] < 0.5 else 0.9 for c in y])


def accuracy_curve(config, budget):
    import hpo

    acc = 0.0
    for epoch in range(budget.start, budget.stop):
        acc = config["x"] * (1 - 0.5 ** (epoch + 1))
        hpo.report(acc=acc, step=epoch)
    return {"acc": acc}


def test_stops_hopeless_trials_once_there_is_an_incumbent():
    oracle = Oracle()
    space = SearchSpace({"x": Float(0.0, 1.0)})
    sched = LCStopping(RandomSearcher(space, 0), threshold=0.05, min_steps=3, model=oracle, calibrate=False,
                        rank_check=False)  # min_steps as a fixed floor (the rank check: test_lcpfn_stopping_rank)
    study = Study.create(accuracy_curve, space, metric="acc", mode="max", budget=Budget(1, 10), scheduler=sched,
                         executor="inprocess", seed=0)  # fmt: skip
    study.enqueue({"x": 0.9})  # the first trial sets the incumbent
    result = study.optimize(n_trials=12)
    first = result.trials[0]
    assert first.status is TrialStatus.COMPLETED  # nothing is stopped before an incumbent exists
    pruned = [t for t in result.trials if t.status is TrialStatus.PRUNED]
    assert pruned and sched.n_stopped == len(pruned)
    for t in pruned:
        assert t.config["x"] * (1 - 0.5**3) < 0.5  # only hopeless curves, after min_steps reports
        assert t.last_step == 2
    x, y, x_final, threshold, maximize = oracle.calls[-1]
    assert x_final == 10 and maximize and x[0][0] == 1.0  # 1-based epochs up to budget.max
    completed = {t.value for t in result.trials if t.status is TrialStatus.COMPLETED}
    assert threshold in completed  # the incumbent: the best value at the full budget so far


def test_arguments_are_checked():
    searcher = RandomSearcher(SearchSpace({"x": Float(0.0, 1.0)}), 0)
    with pytest.raises(HPOError, match="threshold"):
        LCStopping(searcher, threshold=1.5)
    with pytest.raises(HPOError, match="min_steps"):
        LCStopping(searcher, min_steps=0)


def test_runs_with_a_real_lcpfn_around_asha():
    space = SearchSpace({"x": Float(0.0, 1.0)})
    searcher = RandomSearcher(space, 1)
    sched = LCStopping(searcher, base=ASHA(searcher, eta=3), model=TINY, min_steps=2)
    study = Study.create(accuracy_curve, space, metric="acc", mode="max", budget=Budget(1, 9), scheduler=sched,
                         executor="inprocess", seed=1)  # fmt: skip
    result = study.optimize(n_trials=15)
    assert result.incumbent is not None
    assert {t.status for t in result.trials} <= {TrialStatus.COMPLETED, TrialStatus.PAUSED, TrialStatus.PRUNED}


def test_decides_within_hyperband_rungs():
    """Around Hyperband, LC-PFN stops a hopeless trial inside its rung; Hyperband's brackets still run."""
    oracle = Oracle()
    space = SearchSpace({"x": Float(0.0, 1.0)})
    searcher = RandomSearcher(space, 3)
    sched = LCStopping(searcher, base=Hyperband(searcher, eta=3), min_steps=3, model=oracle)
    study = Study.create(accuracy_curve, space, metric="acc", mode="max", budget=Budget(1, 9), scheduler=sched,
                         executor="inprocess", seed=3)  # fmt: skip
    study.enqueue({"x": 0.95})
    result = study.optimize(n_trials=30)
    pruned = [t for t in result.trials if t.status is TrialStatus.PRUNED]
    assert pruned and sched.n_stopped == len(pruned)
    assert all(t.config["x"] * (1 - 0.5**3) < 0.5 and t.last_step == 2 for t in pruned)
    assert any(t.status is TrialStatus.COMPLETED and t.budget == 9 for t in result.trials)
    # Hyperband's own stopping: some trials ended below the full budget without LC-PFN's verdict
    assert any(t.status is not TrialStatus.PRUNED and t.budget < 9 for t in result.trials)


def _loss_curve(config, budget):
    import hpo

    loss = 0.0
    for epoch in range(budget.start, budget.stop):
        loss = config["offset"] + 2.0 * 0.5 ** (epoch * config["x"])
        hpo.report(loss=loss, step=epoch)
    return {"loss": loss}


def test_a_loss_above_1_is_mapped_from_0_to_its_start_and_an_unplaceable_metric_stops_the_study_naming_it(tmp_path):
    space = SearchSpace({"x": Float(0.1, 1.0), "offset": Float(0.0, 0.1)})
    oracle = Oracle()
    sched = LCStopping(RandomSearcher(space, 0), min_steps=2, model=oracle, calibrate=False, rank_check=False)
    study = Study.create(_loss_curve, space, metric="loss", mode="min", budget=Budget(1, 6), scheduler=sched,
                         executor="inprocess", seed=0)  # fmt: skip
    study.optimize(n_trials=4)
    assert oracle.calls
    low, high = sched.rule.scale(False)
    assert low == 0.0 and 2.0 <= high <= 2.1  # every curve starts at offset + 2

    storage = tmp_path / "study.db"
    shifted = SearchSpace({"x": Float(0.1, 1.0), "offset": Float(-3.0, -2.5)})  # a "loss" that goes negative
    sched = LCStopping(RandomSearcher(shifted, 0), min_steps=2, model=Oracle(), calibrate=False, rank_check=False)
    study = Study.create(_loss_curve, shifted, metric="loss", mode="min", budget=Budget(1, 6), scheduler=sched,
                         executor="inprocess", seed=0, storage=str(storage))  # fmt: skip
    with pytest.raises(HPOError, match=r"'loss'.*y_range"):
        study.optimize(n_trials=4)
    import hpo

    kept = hpo.load_study(str(storage)).trials
    assert kept[0].status is TrialStatus.COMPLETED and kept[0].value is not None  # the incumbent is not lost
