"""ASHA with brackets (asynchronous Hyperband): bracket weights and rank trust, in real studies."""

from __future__ import annotations

import math

import pytest

import hpo
from hpo.budget import Budget
from hpo.errors import HPOError
from hpo.schedulers import ASHA
from hpo.schedulers._brackets import (
    bracket_weights,
    hyperband_weights,
    positive_rank_probability,
    rung_trust,
)
from hpo.search_spaces import Float, SearchSpace
from hpo.searchers import RandomSearcher
from hpo.study import Study
from hpo.testing import SchedulerContract

SPACE = {"x": Float(0.0, 1.0)}


class TestASHABracketsContract(SchedulerContract):
    def make_scheduler(self, searcher, budget):
        return ASHA(searcher, eta=3, brackets="all")


# ---------------------------------------------------------------------- weights
def test_hyperband_weights_are_slots_per_unit_budget():
    rungs = [1, 3, 9, 27, 81]
    raw = [5 / (5 * 1), 5 / (4 * 3), 5 / (3 * 9), 5 / (2 * 27), 5 / (1 * 81)]
    assert hyperband_weights(rungs, 5) == pytest.approx([w / sum(raw) for w in raw])
    assert hyperband_weights(rungs, 2) == pytest.approx([raw[0] / (raw[0] + raw[1]), raw[1] / (raw[0] + raw[1])])
    assert hyperband_weights(rungs, 1) == [1.0]


def _levels(low_sign: float, n: int = 8) -> list[dict[int, float]]:
    """Three rungs: rung 2 = i, rung 1 = i (agrees), rung 0 = low_sign * i on the same trials."""
    return [{i: low_sign * i for i in range(n)}, {i: float(i) for i in range(n)}, {i: float(i) for i in range(n)}]


def test_a_rung_whose_ranks_reverse_the_higher_rungs_gets_no_trust():
    trust, tau, higher = rung_trust(_levels(-1.0), 0)
    assert higher == 2 and tau == pytest.approx(-1.0)  # compared with the highest rung
    assert trust == pytest.approx(0.0, abs=1e-3)  # P(tau > 0) after 8 reversed pairs
    assert rung_trust(_levels(-1.0), 0, "linear")[0] == 0.0
    assert rung_trust(_levels(1.0), 0)[0] == pytest.approx(1.0, abs=1e-3)
    assert rung_trust(_levels(1.0), 0, "linear")[0] == 1.0


def test_positive_rank_probability_is_the_normal_evidence_that_tau_is_above_zero():
    assert positive_rank_probability(0.0, 10) == pytest.approx(0.5)
    sd = math.sqrt(2 * (2 * 20 + 5) / (9 * 20 * 19))
    assert positive_rank_probability(sd, 20) == pytest.approx(0.8413, abs=1e-4)  # Phi(1)
    # the same weak tau is stronger evidence on more trials
    assert positive_rank_probability(0.2, 40) > positive_rank_probability(0.2, 10) > 0.5


def test_trust_starts_new_configs_at_the_lowest_trusted_rung():
    assert bracket_weights([1, 3, 9], 3, "trust", _levels(1.0)) == pytest.approx([1.0, 0.0, 0.0], abs=1e-3)  # ASHA
    assert bracket_weights([1, 3, 9], 3, "trust", _levels(-1.0)) == pytest.approx([0.0, 1.0, 0.0], abs=1e-3)  # one up
    half = [dict(enumerate([3.0, 0, 5, 1, 7, 2, 6, 4])), *_levels(1.0)[1:]]  # tau 0.29 with rung 2
    trust0 = rung_trust(half, 0)[0]
    assert trust0 == pytest.approx(positive_rank_probability(2 / 7, 8))
    assert rung_trust(half, 0, "linear")[0] == pytest.approx((2 / 7) / 0.5)
    assert 0.5 < rung_trust(half, 0, "linear")[0] < trust0 < 1  # a weak positive tau: mostly trusted
    trust1 = rung_trust(half, 1)[0]
    assert bracket_weights([1, 3, 9], 3, "trust", half) == pytest.approx(
        [trust0, (1 - trust0) * trust1, (1 - trust0) * (1 - trust1)])


def test_hyperband_trust_scales_hyperbands_weights():
    weights = bracket_weights([1, 3, 9], 3, "hyperband-trust", _levels(-1.0))
    assert weights[0] == 0.0 and sum(weights) == pytest.approx(1.0)
    hb = hyperband_weights([1, 3, 9], 3)
    assert weights[1] / weights[2] == pytest.approx(hb[1] / hb[2])
    assert bracket_weights([1, 3, 9], 3, "hyperband", _levels(-1.0)) == pytest.approx(hb)


def test_without_enough_common_trials_a_rung_is_trusted():
    assert rung_trust(_levels(-1.0, n=5), 0) == (1.0, None, None)  # 5 < 6 common trials
    assert rung_trust(_levels(-1.0), 2) == (1.0, None, None)  # the top rung


def test_when_no_bracket_is_trusted_the_highest_one_gets_every_new_trial():
    levels = [{i: -float(i) for i in range(8)}, {i: -float(i) for i in range(8)}, {i: float(i) for i in range(8)}]
    assert bracket_weights([1, 3, 9], 2, "hyperband-trust", levels) == [0.0, 1.0]
    assert bracket_weights([1, 3, 9], 2, "trust-linear", levels) == [0.0, 1.0]
    assert bracket_weights([1, 3, 9], 2, "trust", levels) == pytest.approx([0.0, 1.0], abs=1e-3)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"brackets": 0}, "brackets"), ({"brackets": "many"}, "brackets"), ({"brackets": True}, "brackets"),
    ({"bracket_weights": "uniform"}, "bracket_weights"),
])
def test_bad_bracket_arguments_raise_a_typed_error(kwargs, match):
    with pytest.raises(HPOError, match=match):
        ASHA(RandomSearcher(SearchSpace(SPACE), 0), **kwargs)


# ---------------------------------------------------------------------- real studies
def _misleading_first_epoch(config, budget):
    """The first epoch ranks configs backwards; from the second on, x near 0.3 is best."""
    state = hpo.checkpoint.load()
    assert (0 if state is None else state["epochs"]) == budget.start
    loss = math.inf
    for epoch in range(budget.start, budget.stop):
        gap = (config["x"] - 0.3) ** 2
        loss = -gap if epoch == 0 else gap + 1.0 / (epoch + 1)
        hpo.report(loss=loss, step=epoch)
        hpo.checkpoint.save({"epochs": epoch + 1})
    return {"loss": loss}


def _study(tmp_path, scheduler, name="s.db"):
    space = SearchSpace(SPACE)
    return Study.create(_misleading_first_epoch, space, budget=Budget(1, 27), scheduler=scheduler(RandomSearcher(space, 0)),
                        executor="inprocess", workers=1, storage=str(tmp_path / name), seed=0)


def test_trust_stops_starting_trials_at_a_misleading_first_rung(tmp_path):
    sched = ASHA(RandomSearcher(SearchSpace(SPACE), 0), eta=3, brackets="all")
    study = _study(tmp_path, lambda s: sched)
    result = study.optimize(n_trials=60)
    info = sched.describe()
    assert info["rungs"] == [1, 3, 9, 27] and info["brackets"] == 4
    trust0, tau0, _ = info["trust"][0]
    assert tau0 is not None and tau0 < 0 and trust0 < 0.01
    assert info["bracket_weights"][0] < 0.01
    by_bracket = {t.trial_id: t.notes["bracket"] for t in result.trials}
    assert set(by_bracket.values()) >= {0, 1}
    # a trial's first job ends at its bracket's first rung
    for t in result.trials:
        first = [r.step for r in study.storage.reports(t.trial_id)]
        assert len(first) >= info["rungs"][by_bracket[t.trial_id]]
    # once rung 0 had shown its reversed ranks, new trials started one rung up
    late = [by_bracket[t.trial_id] for t in result.trials[-15:]]
    assert 0 not in late and 1 in late
    # trials started at rung 1 passed epoch 1 on their way: their reports are rung 0's evidence
    started_higher = [t.trial_id for t in result.trials if by_bracket[t.trial_id] == 1]
    assert started_higher and all(tid in sched._evidence[0] for tid in started_higher)
    assert all(tid not in sched._rung_values[0] for tid in started_higher)
    study.close()


def test_hyperband_weights_keep_starting_trials_at_every_rung(tmp_path):
    sched = ASHA(RandomSearcher(SearchSpace(SPACE), 0), eta=3, brackets="all", bracket_weights="hyperband")
    study = _study(tmp_path, lambda s: sched)
    result = study.optimize(n_trials=60)
    assert sched.describe()["bracket_weights"] == pytest.approx(hyperband_weights([1, 3, 9, 27], 4))
    assert sum(t.notes["bracket"] == 0 for t in result.trials[-20:]) > 0
    study.close()


def test_classic_asha_writes_no_bracket_notes_and_draws_nothing(tmp_path):
    sched = ASHA(RandomSearcher(SearchSpace(SPACE), 0), eta=3)
    study = _study(tmp_path, lambda s: sched)
    result = study.optimize(n_trials=12)
    assert all("bracket" not in t.notes for t in result.trials)
    assert sched.describe()["brackets"] == 1 and "bracket_weights" not in sched.describe()
    study.close()


def test_a_resumed_study_puts_each_trial_back_in_its_bracket(tmp_path):
    study = _study(tmp_path, lambda s: ASHA(s, eta=3, brackets="all"))
    study.optimize(n_trials=30)
    stored = {t.trial_id: t.notes["bracket"] for t in study.trials}
    study.close()
    assert len(set(stored.values())) > 1
    sched = ASHA(RandomSearcher(SearchSpace(SPACE), 1), eta=3, brackets="all")
    again = Study.load(str(tmp_path / "s.db"), _misleading_first_epoch, scheduler=sched, executor="inprocess")
    result = again.optimize(n_trials=40)
    assert len(result.trials) == 40
    members = [[{tid for _, tid in rung} for rung in bracket] for bracket in sched._ranked]
    for tid, b in stored.items():
        assert sched._bracket_of[tid] == b
        assert tid in members[b][b]  # back in its own bracket's first rung
        assert all(tid not in members[b2][k] for b2 in range(4) if b2 != b for k in range(4))
    again.close()


def test_async_hyperband_by_name_with_bo_ts_and_a_stored_resume(tmp_path):
    from hpo.schedulers import AsyncHyperband

    @hpo.tune(space=SPACE, metric="loss", mode="min", scheduler="async_hyperband", budget=hpo.Budget(min=1, max=27))
    def train(config, budget):
        return _misleading_first_epoch(config, budget)

    db = str(tmp_path / "ah.db")
    study = train.study(executor="inprocess", workers=1, seed=0, storage=db)
    try:
        study.optimize(n_trials=30)
        sched = study.scheduler
        assert isinstance(sched, AsyncHyperband) and sched.n_brackets == 4 and sched.bracket_weights == "trust"
        assert sched.searcher.acquisition == "ts"  # the ASHA pairing: bo -> bo-ts
        assert {t.notes["bracket"] for t in study.trials} >= {0, 1}
    finally:
        study.close()
    again = Study.load(db, _misleading_first_epoch, executor="inprocess")  # scheduler from the stored settings
    try:
        assert isinstance(again.scheduler, AsyncHyperband)
        result = again.optimize(n_trials=40)
        assert len(result.trials) == 40
        assert again.scheduler._bracket_of.keys() >= {t.trial_id for t in result.trials}
    finally:
        again.close()
