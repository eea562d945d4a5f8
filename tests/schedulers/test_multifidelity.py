"""Successive halving, Hyperband, ASHA, model-based variants and PBT, in real studies."""

from __future__ import annotations

import math
from typing import Any

import pytest

import hpo
from hpo.budget import Budget
from hpo.errors import HPOError
from hpo.schedulers import ASHA, PBT, Hyperband, SuccessiveHalving, hyperband_brackets
from hpo.schedulers._fidelity import rung_budgets
from hpo.search_spaces import Float, SearchSpace
from hpo.searchers import RandomSearcher
from hpo.study import Study
from hpo.testing import SchedulerContract
from hpo.trial import TrialStatus

SPACE = {"x": Float(0.0, 1.0)}


class TestSuccessiveHalvingContract(SchedulerContract):
    def make_scheduler(self, searcher, budget):
        return SuccessiveHalving(searcher, eta=3)


class TestHyperbandContract(SchedulerContract):
    def make_scheduler(self, searcher, budget):
        return Hyperband(searcher, eta=3)


class TestASHAContract(SchedulerContract):
    def make_scheduler(self, searcher, budget):
        return ASHA(searcher, eta=3)


class TestPBTContract(SchedulerContract):
    def make_scheduler(self, searcher, budget):
        return PBT(searcher, population_size=4, interval=3)


# ---------------------------------------------------------------------- bracket maths
def test_hyperband_bracket_table_r81_eta3():
    brackets = hyperband_brackets(1, 81, 3)
    table = [[(n, int(r)) for n, r in b] for b in brackets]
    assert table == [
        [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)],
        [(34, 3), (11, 9), (3, 27), (1, 81)],
        [(15, 9), (5, 27), (1, 81)],
        [(8, 27), (2, 81)],
        [(5, 81)],
    ]
    assert [sum(n * r for n, r in b) for b in table] == [405, 363, 351, 378, 405]


def test_rung_budgets_for_epochs():
    assert rung_budgets(1, 52, 3) == [1, 3, 9, 27, 52]
    assert rung_budgets(1, 81, 3) == [1, 3, 9, 27, 81]
    assert rung_budgets(0.1, 1.0, 2) == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])


@pytest.mark.parametrize("bad", [1, 0.5, "3", True])
def test_eta_must_be_above_one(bad):
    with pytest.raises(HPOError, match="eta"):
        ASHA(RandomSearcher(SearchSpace(SPACE), 0), eta=bad)


# ---------------------------------------------------------------------- objectives
def _loss(config: dict[str, Any], epoch: int) -> float:
    return (config["x"] - 0.3) ** 2 + 1.0 / (epoch + 1)


def train_with_checkpoint(config, budget):
    state = hpo.checkpoint.load()
    done = 0 if state is None else state["epochs"]
    assert done == budget.start, f"resumed at {done}, asked to start at {budget.start}"
    loss = math.inf
    for epoch in range(budget.start, budget.stop):
        loss = _loss(config, epoch)
        hpo.report(loss=loss, step=epoch, started_at=budget.start)
        hpo.checkpoint.save({"epochs": epoch + 1})
    return {"loss": loss, "started_at": budget.start}


def train_without_checkpoint(config, budget):
    loss = math.inf
    for epoch in range(budget.start, budget.stop):
        loss = _loss(config, epoch)
        hpo.report(loss=loss, step=epoch)
    return {"loss": loss, "started_at": budget.start}


def _study(objective, scheduler, tmp_path, workers=2, budget=None, searcher=None):
    space = SearchSpace(SPACE)
    sched = scheduler(searcher or RandomSearcher(space, 0))
    return Study.create(
        objective, space, budget=budget or Budget(1, 27), scheduler=sched, executor="inprocess", workers=workers,
        storage=str(tmp_path / "s.db"), seed=0,
    )


# ---------------------------------------------------------------------- ASHA
def test_asha_promotes_trials_and_they_resume_from_their_checkpoint(tmp_path):
    study = _study(train_with_checkpoint, lambda s: ASHA(s, eta=3), tmp_path)
    result = study.optimize(n_trials=30)
    storage = study.storage
    promoted = [t for t in result.trials if (t.reached or 0) > 1]
    assert promoted, "ASHA never promoted a trial"
    # promotions climb the ladder 1 -> 3 -> 9 -> 27
    assert {t.reached for t in result.trials} >= {1, 3, 9}
    for trial in promoted:
        steps = [r.step for r in storage.reports(trial.trial_id)]
        assert steps == list(range(int(trial.reached))), "a promoted trial redid epochs"
        assert trial.budget == trial.reached  # no epoch paid twice
        assert trial.restarts == 0
    assert any(t.status is TrialStatus.PAUSED for t in result.trials)
    study.close()


def test_asha_promotes_the_top_third_of_a_rung(tmp_path):
    study = _study(train_with_checkpoint, lambda s: ASHA(s, eta=3), tmp_path, workers=1)
    result = study.optimize(n_trials=9)
    rung0 = sorted(result.trials, key=lambda t: _loss(t.config, 0))
    reached = {t.trial_id: t.reached for t in result.trials}
    # with one worker the 9 bottom-rung results are in before the last promotions: the
    # top floor(9 / 3) = 3 of rung 0 were promoted, the others stopped at 1 epoch
    assert [reached[t.trial_id] > 1 for t in rung0] == [True] * 3 + [False] * 6
    study.close()


def test_without_checkpoint_a_promoted_trial_restarts_and_pays_again(tmp_path):
    study = _study(train_without_checkpoint, lambda s: ASHA(s, eta=3), tmp_path)
    result = study.optimize(n_trials=12)
    promoted = [t for t in result.trials if (t.reached or 0) > 1]
    assert promoted
    for trial in promoted:
        assert trial.restarts >= 1
        assert trial.metrics["started_at"] == 0  # the job was told to start from 0
        assert trial.budget > trial.reached  # the accounting shows the repeated epochs
    study.close()


def test_asha_resume_rebuilds_its_rungs_from_the_stored_trials(tmp_path):
    study = _study(train_with_checkpoint, lambda s: ASHA(s, eta=3), tmp_path)
    study.optimize(n_trials=12)
    study.close()
    sched = ASHA(RandomSearcher(SearchSpace(SPACE), 1))
    again = Study.load(str(tmp_path / "s.db"), train_with_checkpoint, scheduler=sched, executor="inprocess")
    first = {t.trial_id: t.reached for t in again.trials}
    result = again.optimize(n_trials=24)
    assert len(result.trials) == 24
    # every trial, old or new, is in rung 0, and the old promotions are remembered
    assert sched.describe()["sizes"][0] == 24
    for tid, reached in first.items():
        if reached > 1:
            assert tid in sched._promoted[0][0]  # bracket 0, rung 0
    # no trial ran an epoch twice: an old trial is never promoted again from the same rung
    for t in result.trials:
        steps = [r.step for r in again.storage.reports(t.trial_id)]
        assert steps == list(range(len(steps)))
    again.close()


# ---------------------------------------------------------------------- SH / Hyperband
def test_successive_halving_runs_a_bracket_synchronously(tmp_path):
    study = _study(train_with_checkpoint, lambda s: SuccessiveHalving(s, eta=3, n_configs=9), tmp_path, workers=3, budget=Budget(1, 9))
    result = study.optimize(n_trials=9)
    reached = sorted(t.reached for t in result.trials)
    assert reached == [1] * 6 + [3] * 2 + [9]  # 9@1 -> 3@3 -> 1@9
    best = min(result.trials, key=lambda t: _loss(t.config, 0))
    assert best.reached == 9 and best.status is TrialStatus.COMPLETED
    assert result.incumbent.trial_id == best.trial_id
    study.close()


def test_hyperband_opens_brackets_in_order_and_promotes(tmp_path):
    study = _study(train_with_checkpoint, lambda s: Hyperband(s, eta=3), tmp_path, workers=2, budget=Budget(1, 9))
    result = study.optimize(n_trials=30)
    # brackets for R=9: 9@1 3@3 1@9 | 5@3 1@9 (rounded: 3@3 ...) | 3@9
    assert any(t.reached == 9 for t in result.trials)
    first_bracket = result.trials[:9]
    assert sorted(t.reached for t in first_bracket) == [1] * 6 + [3] * 2 + [9]
    study.close()


# ---------------------------------------------------------------------- model-based
class RecordingSearcher(RandomSearcher):
    """A random searcher that claims to learn, and records every observation it gets."""

    uses_history = True

    def __init__(self, space, seed=None):
        super().__init__(space, seed)
        self.seen = []
        self.n_suggest = 0

    def observe(self, observations):
        super().observe(observations)
        self.seen.extend(observations)

    def suggest(self, n, pending=()):
        self.n_suggest += n
        return super().suggest(n, pending)


def test_searcher_observes_every_rung_result_as_a_real_observation(tmp_path):
    space = SearchSpace(SPACE)
    searcher = RecordingSearcher(space, 0)
    sched = ASHA(searcher, eta=3, random_fraction=1 / 3)
    study = Study.create(train_with_checkpoint, space, budget=Budget(1, 27), scheduler=sched, executor="inprocess", workers=1, seed=0)
    result = study.optimize(n_trials=60)
    by_trial = {t.trial_id: t for t in result.trials}
    # one observation per ended job: a trial that reached rung k was observed at rungs 0..k
    expected = sorted((t.trial_id, b) for t in result.trials for b in sched.rungs if t.reached is not None and t.reached >= b)
    assert sorted((o.trial_id, o.fidelity) for o in searcher.seen) == expected
    for o in searcher.seen:
        trial = by_trial[o.trial_id]
        assert o.config == trial.config and o.cost > 0 and o.metrics["loss"] == o.value
        assert o.status is (TrialStatus.COMPLETED if o.fidelity == 27 else TrialStatus.PAUSED)
    assert study.storage.observations() == searcher.seen  # stored, so a resume replays them
    # about a third of new configs were random instead of from the searcher
    n_random = 60 - searcher.n_suggest
    assert 8 <= n_random <= 32
    study.close()


# ---------------------------------------------------------------------- PBT
def pbt_train(config, budget):
    state = hpo.checkpoint.load()
    weight = 0.0 if state is None else state["weight"]
    for epoch in range(budget.start, budget.stop):
        weight += config["x"]  # a larger x learns faster
        hpo.report(score=weight, step=epoch)
        hpo.checkpoint.save({"weight": weight})
    return {"score": weight}


def test_pbt_exploits_by_copying_checkpoints_and_explores(tmp_path):
    space = SearchSpace(SPACE)
    sched = PBT(RandomSearcher(space, 0), population_size=8, interval=2, seed=0)
    study = Study.create(
        pbt_train, space, metric="score", mode="max", budget=Budget(1, 12), scheduler=sched,
        executor="inprocess", workers=2, storage=str(tmp_path / "p.db"), seed=0,
    )
    result = study.optimize(n_trials=40)
    children = [t for t in result.trials if t.parent is not None]
    assert sched.n_exploits == len(children) > 0
    trials = {t.trial_id: t for t in result.trials}
    for child in children:
        parent = trials[child.parent]
        replaced = trials[child.notes["replaces"]]
        assert child.config != parent.config or parent.config["x"] == 1.0  # explored (x*1.2 clips at 1)
        first = study.storage.reports(child.trial_id)[0]
        assert first.step > 0  # it went on from the parent's checkpoint, not from 0
        assert replaced.status is TrialStatus.PAUSED
    best = result.incumbent
    assert best.status is TrialStatus.COMPLETED and best.value > 0.5 * 12 * 0.5
    study.close()


def test_explore_perturbs_by_0_8_or_1_2_or_resamples():
    import numpy as np

    from hpo.schedulers.pbt import explore
    from hpo.search_spaces import Categorical, Int

    space = SearchSpace({"lr": Float(1e-4, 1.0, log=True), "units": Int(8, 512), "act": Categorical(["a", "b", "c"])})
    parent = {"lr": 0.01, "units": 100, "act": "b"}
    rng = np.random.default_rng(0)
    ratios = set()
    for _ in range(50):
        child = explore(parent, space, rng, resample_probability=0.0)
        ratios.add(round(child["lr"] / parent["lr"], 6))
        assert child["units"] in (80, 120)
        assert child["act"] == "b"  # categorical kept unless resampled
    assert ratios == {0.8, 1.2}
    resampled = [explore(parent, space, rng, resample_probability=1.0) for _ in range(50)]
    assert len({c["lr"] for c in resampled}) == 50
    assert {c["act"] for c in resampled} == {"a", "b", "c"}
    # clipped to the bounds
    assert explore({"lr": 0.95, "units": 500, "act": "a"}, space, np.random.default_rng(1), 0.0)["lr"] <= 1.0


def test_pbt_rejects_bad_arguments():
    space = SearchSpace(SPACE)
    with pytest.raises(HPOError, match="population_size"):
        PBT(RandomSearcher(space, 0), population_size=1)
    with pytest.raises(HPOError, match="quantile"):
        PBT(RandomSearcher(space, 0), quantile=0.9)


def test_tune_accepts_scheduler_names():
    @hpo.tune(space=SPACE, metric="loss", mode="min", scheduler="asha", searcher="random", budget=Budget(1, 9))
    def f(config, budget):
        return train_with_checkpoint(config, budget)

    result = f.run(n_trials=10, executor="inprocess", seed=0)
    assert result.incumbent is not None
    assert any((t.reached or 0) > 1 for t in result.trials)



def test_scheduler_random_choices_do_not_repeat_the_searchers_stream():
    # PBT once resampled, with the searcher's own seed and stream, the very configs the
    # searcher had proposed (a child then equalled its parent)
    space = SearchSpace(SPACE)
    searcher = RandomSearcher(space, 0)
    pbt = PBT(RandomSearcher(space, 0), population_size=4)
    asha = ASHA(RandomSearcher(space, 0))
    ours = searcher.rng.random(5)
    assert not set(pbt.rng.random(5)) & set(ours)
    assert not set(asha.rng.random(5)) & set(ours)


def test_asha_with_few_trials_still_trains_its_best_to_the_full_budget():
    # 8 trials, eta 3: rung 1 promotes 2, rung 3 promotes floor(2/3) = 0; once no trial may
    # start and nothing runs, the best of the highest rung goes on up to budget.max
    space = SearchSpace(SPACE)
    study = Study.create(train_with_checkpoint, space, budget=Budget(1, 27), scheduler=ASHA(RandomSearcher(space, 0), eta=3),
                         executor="inprocess", workers=2, seed=0)  # fmt: skip
    result = study.optimize(n_trials=8)
    completed = [t for t in result.trials if t.status is TrialStatus.COMPLETED]
    assert len(completed) == 1 and result.incumbent.trial_id == completed[0].trial_id
    assert len(result.trials) == 8


def test_asha_by_name_gets_a_thompson_sampling_bo_searcher_and_other_schedulers_logei(tmp_path):
    from hpo.searchers.bo import BOSearcher

    asha = Study.create(train_with_checkpoint, SPACE, budget=Budget(1, 9), scheduler="asha", executor="inprocess", seed=0)
    hb = Study.create(train_with_checkpoint, SPACE, budget=Budget(1, 9), scheduler="hyperband", executor="inprocess", seed=0)
    explicit = Study.create(train_with_checkpoint, SPACE, budget=Budget(1, 9), scheduler="asha", searcher="random", executor="inprocess")
    try:
        assert isinstance(asha.scheduler.searcher, BOSearcher) and asha.scheduler.searcher.acquisition == "ts"
        assert isinstance(hb.scheduler.searcher, BOSearcher) and hb.scheduler.searcher.acquisition == "logei"
        assert isinstance(explicit.scheduler.searcher, RandomSearcher)  # an explicit choice is kept
        result = asha.optimize(n_trials=20)
        assert sum(t.status is TrialStatus.COMPLETED for t in result.trials) >= 1  # the TS model ran and promoted to the top
        assert asha.scheduler.searcher.n_observed >= 2
    finally:
        for s in (asha, hb, explicit):
            s.close()
