import math

import numpy as np
import pytest

from hpo.errors import SettingError
from hpo.search_spaces import Categorical, Float, Int, SearchSpace
from hpo.searchers import _carbs_models as M
from hpo.searchers.carbs import CARBS
from hpo.testing import SearcherContract
from hpo.testing.searcher import CONDITIONAL, MIXED
from hpo.trial import INTERRUPTED, Observation, TrialStatus


class TestCARBSContract(SearcherContract):
    def make_searcher(self, space, seed):
        return CARBS(space, seed=seed)


# A cost-performance trade-off: wider is better but costs more; lr has one best value.
TOY = SearchSpace({"width": Int(1, 1000, log=True), "lr": Float(1e-4, 1e-1, log=True)})
LR_BEST = 3e-3
START = {"width": 4, "lr": 1e-3}


def toy_value(config):
    return 1 - math.exp(-config["width"] / 50) - 2.0 * math.log10(config["lr"] / LR_BEST) ** 2


def done(trial_id, config, value, cost, status=TrialStatus.COMPLETED, reason=None):
    values = None if status is TrialStatus.FAILED else (value,)
    return Observation(trial_id, config, status, 1.0, {"score": value, "cost": cost}, 0.0, values, reason)


def run(searcher, n, start=0, value=toy_value, cost=lambda c: float(c["width"])):
    """Evaluate ``n`` suggestions one at a time; returns the proposals made."""
    if searcher.metric != "score":
        searcher.set_objective("score", "max")
    for i in range(start, start + n):
        (config,) = searcher.suggest(1)
        TOY.validate(config)
        searcher.observe([done(i + 1, config, value(config), cost(config))])
    return searcher.proposals[-n:]


def model_inputs(searcher, configs):
    import torch

    x = searcher.basic.encode(configs, searcher.center_basic)
    return torch.as_tensor(searcher.basic.model_inputs(x, searcher.center_basic))


# ---------------------------------------------------------------------- spaces and warm-up
def test_basic_space_defaults_and_round_trip():
    space = SearchSpace(
        {
            "lr": Float(1e-5, 1e-1, log=True),
            "momentum": Float(0.5, 0.999),
            "dropout": Float(0.0, 0.5, step=0.1),
            "layers": Int(1, 8),
            "units": Int(16, 512, log=True),
            "opt": Categorical(["adam", "sgd"]),
        }
    )
    basic = CARBS(space, seed=0).basic
    assert basic.kinds == ["log", "logit", "linear", "linear", "log", "categorical"]
    assert basic.scales[3] == pytest.approx(3.5)  # (8 - 1) / 2: one layer is within one radius
    assert basic.scales[2] == pytest.approx(0.1 / 0.3)  # a step is one radius
    config = {"lr": 3e-4, "momentum": 0.9, "dropout": 0.2, "layers": 3, "units": 64, "opt": "sgd"}
    x = basic.encode([config], np.zeros(space.d))
    assert x[0, 1] == pytest.approx(math.log10(0.9 / 0.1))
    (back,) = basic.decode(x)
    assert back["layers"] == 3 and back["units"] == 64 and back["opt"] == "sgd" and back["dropout"] == pytest.approx(0.2)
    assert back["lr"] == pytest.approx(3e-4) and back["momentum"] == pytest.approx(0.9)


def test_bad_settings_name_the_culprit():
    with pytest.raises(SettingError, match="nope"):
        CARBS(TOY, center={"nope": 1})
    with pytest.raises(SettingError, match="width"):
        CARBS(TOY, center={"width": 5000})
    with pytest.raises(SettingError, match="width"):
        CARBS(TOY, transforms={"width": "logit"})
    assert CARBS(TOY, transforms={"lr": "logit"}).basic.kinds == ["log", "logit"]
    with pytest.raises(SettingError, match="max_cost"):
        CARBS(TOY, max_cost=-1)


def test_warm_up_draws_around_the_center():
    default = CARBS(TOY, seed=0)
    (middle,) = default.basic.decode(default.center_basic)
    assert middle["width"] == 32 and middle["lr"] == pytest.approx(10**-2.5)  # the middle in log space
    searcher = CARBS(TOY, seed=0, center=START)
    searcher.set_objective("score", "max")
    configs = searcher.suggest(40)
    assert {p.kind for p in searcher.proposals} == {"warmup"}
    steps = np.array([[math.log10(c["width"] / 4), math.log10(c["lr"] / 1e-3)] for c in configs])
    assert np.all(np.abs(steps) < 4 * 0.3)  # N(0, 0.3^2) in log10 units
    assert 0.15 < steps[:, 1].std() < 0.45


# ---------------------------------------------------------------------- the two reference bugs
def test_duplicated_configs_never_leave_the_pareto_groups_empty():
    """carbs#6: the cost quantile is over single observations, compared with group means."""
    a, b, c = ({"width": w, "lr": 1e-3} for w in (2, 3, 10))
    history = [done(1, a, 0.1, 1.0), done(2, a, 0.2, 3.0), done(3, b, 0.3, 2.5), done(4, c, 0.5, 10.0)]
    searcher = CARBS(TOY, seed=0)
    searcher.set_objective("score", "max")
    searcher.observe(history)
    groups = searcher._groups()
    per_observation = np.quantile([1.0, 3.0, 2.5, 10.0], 0.2)
    assert all(g.cost > per_observation for g in groups)  # the reference's cheap bucket is empty here
    for conservative in (True, False):
        front = M.pareto_groups(groups, 0.2, conservative)
        assert front and front[0].config == a and front[-1].config == c
    configs = searcher.suggest(2)
    assert [p.kind for p in searcher.proposals] == ["model", "model"]
    assert all(TOY.contains(x) for x in configs)
    assert [p.config for p in searcher.pareto_front()] == [a, b, c]


def test_resampling_with_noisy_costs_keeps_working():
    rng = np.random.default_rng(0)
    searcher = CARBS(TOY, seed=1, center=START, resample_frequency=1)
    proposals = run(searcher, 16, cost=lambda c: c["width"] * rng.uniform(0.3, 3.0))
    assert sum(p.kind == "resample" for p in proposals) >= 5
    assert any(len(g.costs) > 1 for g in searcher._groups())
    for conservative in (True, False):
        assert M.pareto_groups(searcher._groups(), 0.2, conservative)


def test_success_probability_uses_the_standard_deviation_not_the_variance():
    import torch
    from botorch.utils.testing import MockModel, MockPosterior

    mean = torch.tensor([0.3, -0.2, 0.0], dtype=torch.float64)
    variance = torch.full_like(mean, 0.25)  # std 0.5
    right = torch.distributions.Normal(mean, 0.5).cdf(torch.zeros(3, dtype=torch.float64))
    wrong = torch.distributions.Normal(mean, 0.25).cdf(torch.zeros(3, dtype=torch.float64))  # the reference
    assert torch.allclose(M.success_probability(mean, variance), right)
    assert not torch.allclose(M.success_probability(mean, variance), wrong)
    assert float(M.success_probability(mean, variance)[0]) == pytest.approx(0.274253, abs=1e-6)  # Phi(-0.6)
    model = MockModel(MockPosterior(mean=mean.reshape(-1, 1), variance=variance.reshape(-1, 1)))
    x = torch.zeros(3, 2, dtype=torch.float64)
    assert torch.allclose(M.predict_success(model, x), right)
    assert torch.equal(M.predict_success(None, x), torch.ones(3, dtype=torch.float64))


def test_failures_teach_the_success_model():
    searcher = CARBS(TOY, seed=0, center={"width": 8, "lr": 3e-3})
    searcher.set_objective("score", "max")
    good = [{"width": w, "lr": lr} for w in (4, 8, 16) for lr in (1e-3, 3e-3)]
    bad = [{"width": w, "lr": 0.05} for w in (4, 8, 16)]
    searcher.observe([done(i + 1, c, toy_value(c), c["width"]) for i, c in enumerate(good)])
    searcher.observe([done(10 + i, c, 0.0, 1.0, TrialStatus.FAILED, "OOM") for i, c in enumerate(bad)])
    searcher.observe([done(20, good[0], 0.0, 1.0, TrialStatus.FAILED, INTERRUPTED)])  # not the config's fault
    assert len(searcher._failures) == 3
    fitted = searcher._fit()
    p_good, p_bad = M.predict_success(fitted["success"], model_inputs(searcher, [{"width": 8, "lr": 2e-3}, {"width": 8, "lr": 0.05}]))
    assert p_good > 0.7 and p_bad < 0.3
    searcher.suggest(3)  # the first is a resample (6 successes)
    model = [p for p in searcher.proposals if p.kind == "model"]
    assert model and all(0.0 <= p.success_probability <= 1.0 for p in model)


# ---------------------------------------------------------------------- behaviour
def test_pareto_front_spans_costs_with_near_optimal_lr():
    searcher = CARBS(TOY, seed=0, center=START)
    run(searcher, 40)
    front = searcher.pareto_front()
    costs = [p.cost for p in front]
    assert costs == sorted(costs) and max(costs) / min(costs) >= 10
    gaps = [abs(math.log10(p.config["lr"] / LR_BEST)) for p in front]
    # lr spans 3 decades, where a log-uniform draw is 0.75 decades off LR_BEST on average
    assert max(gaps) < 0.3 and np.median(gaps) < 0.15
    assert front[-1].value > 0.6
    assert [p.value for p in front] == sorted(p.value for p in front)


def test_max_cost_bounds_the_predicted_cost_of_model_suggestions():
    searcher = CARBS(TOY, seed=1, center=START, max_cost=30.0)
    proposals = run(searcher, 30)
    model = [p for p in proposals if p.kind == "model"]
    assert len(model) >= 15
    assert all(p.predicted_cost < 30.0 for p in model)
    # The same check against the cost GP itself, refitted on the final history.
    fitted = searcher._fit()
    logcost, _ = M.predict(fitted["cost"], model_inputs(searcher, [p.config for p in model[-5:]]))
    assert float(fitted["c_tf"].to_log(logcost).max()) < math.log(30.0) + 0.3
    # The cap is soft (the cost GP extrapolates poorly at first, as the reference warns),
    # it still keeps nearly every true cost within twice the cap.
    assert np.mean([p.config["width"] <= 2 * 30.0 for p in model]) >= 0.9
    free = [p for p in run(CARBS(TOY, seed=1, center=START), 30) if p.kind == "model"]
    assert sum(p.predicted_cost >= 30.0 for p in free) >= 5  # without the cap it goes further


def test_resample_picks_the_cheapest_least_sampled_pareto_config():
    history = [done(i + 1, {"width": w, "lr": 1e-3}, 0.1 * w, float(w)) for i, w in enumerate(range(1, 7))]
    first = CARBS(TOY, seed=0)
    first.set_objective("score", "max")
    first.observe(history)
    (config,) = first.suggest(1)
    assert first.proposals[-1].kind == "resample"
    assert config == {"width": 2, "lr": 1e-3}  # 1 and 2 share the cheap bucket, 2 is its best
    second = CARBS(TOY, seed=0)
    second.set_objective("score", "max")
    second.observe(history)
    assert second.suggest(1, pending=[config]) == [{"width": 3, "lr": 1e-3}]  # the pending repeat counts
    assert second.suggest(1)[0] != {"width": 2, "lr": 1e-3} and second.proposals[-1].kind == "model"


def test_batch_and_pending_get_fantasies():
    searcher = CARBS(TOY, seed=0, center=START, resample_frequency=0)
    run(searcher, 8)
    batch = searcher.suggest(4, pending=[{"width": 8, "lr": 2e-3}])
    assert [p.kind for p in searcher.proposals[-4:]] == ["model"] * 4
    assert len({tuple(sorted(c.items())) for c in batch}) == 4


def test_replay_moves_past_the_history():
    history = [done(i + 1, {"width": 2 + i, "lr": 1e-3}, 0.01 * i, 2.0 + i) for i in range(12)]
    searcher = CARBS(TOY, seed=0)
    searcher.set_objective("score", "max")
    searcher.replay(history)
    assert searcher.resample_count == 2  # ceil(12 / 5) - 1: no burst of resamples
    searcher.suggest(1)
    assert searcher.proposals[-1].kind == "model"


def test_minimized_metric_and_categorical_and_conditional_spaces():
    searcher = CARBS(TOY, seed=0, center=START)
    searcher.set_objective("score", "min")
    run_values = run(searcher, 8, value=lambda c: -toy_value(c))
    assert run_values
    front = searcher.pareto_front()
    assert [p.value for p in front] == sorted((p.value for p in front), reverse=True)  # lower is better
    for space in (MIXED, CONDITIONAL):
        searcher = CARBS(space, seed=0, num_random_samples=3, fit_hyperparameters=space is MIXED)
        searcher.set_objective("loss", "min")
        configs = searcher.suggest(3)
        status = [TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.COMPLETED]
        searcher.observe([done(i + 1, c, float(i), 1.0 + i, s) for i, (c, s) in enumerate(zip(configs, status, strict=True))])
        searcher.observe([Observation(9, configs[0], TrialStatus.COMPLETED, 1.0, {}, 0.5, (0.5,))])
        more = searcher.suggest(4, pending=configs[:1])
        assert [p.kind for p in searcher.proposals[-4:]] == ["model"] * 4
        for c in more:
            space.validate(c)


# ---------------------------------------------------------------------- end to end
def test_study_end_to_end():
    from hpo.study import Study

    def objective(config):
        return {"score": toy_value(config), "cost": float(config["width"])}

    searcher = CARBS(TOY, seed=0, center=START)
    study = Study.create(objective, TOY, metric="score", mode="max", searcher=searcher, executor="inprocess")
    result = study.optimize(n_trials=20)
    assert result.counts()["COMPLETED"] == 20
    assert searcher.n_observed == 20 and searcher.mode == "max"
    assert {p.kind for p in searcher.proposals} >= {"warmup", "model"}
    front = searcher.pareto_front()
    assert front and front[-1].value == pytest.approx(max(t.value for t in result.trials))
    assert result.incumbent.value > toy_value(START)
