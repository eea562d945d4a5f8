import math
import time

import numpy as np
import pytest
import torch

import hpo
from hpo._registry import SURROGATES
from hpo.search_spaces import INACTIVE_VALUE, Categorical, Choice, Float, SearchSpace
from hpo.surrogates.forest import ForestPredictive, RandomForestSurrogate
from hpo.testing import SurrogateContract
from hpo.trial import TrialStatus


class TestRandomForestSurrogate(SurrogateContract):
    def make_surrogate(self):
        return RandomForestSurrogate(seed=0)

    def test_mean_is_differentiable(self):
        # The contract checks gradients of the mean unconditionally; a forest declares
        # `differentiable = False` and the optimizer never asks it for gradients.
        assert RandomForestSurrogate.differentiable is False
        pytest.skip("forest declares differentiable = False")


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    return x, np.sin(3 * x[:, 0]) + 0.5 * np.cos(5 * x[:, 1])


def test_registered_as_forest():
    s = SURROGATES.build("forest", seed=1)
    assert isinstance(s, RandomForestSurrogate) and s.seed == 1 and not s.differentiable


def test_predictive_moments_and_samples_are_the_trees():
    s = RandomForestSurrogate(n_trees=10)
    s.fit(*_data(30))
    pred = s.predict(torch.rand(7, 2, 2, dtype=torch.float64))
    assert isinstance(pred, ForestPredictive)
    assert pred.tree_means.shape == (10, 7, 2) and pred.mean.dtype == torch.float64
    assert pred.mean.shape == (7, 2) and pred.variance.shape == (7, 2)
    assert torch.allclose(pred.mean, pred.tree_means.mean(0))
    spread = pred.tree_means.var(0, unbiased=False)
    assert torch.allclose(pred.variance, spread + pred.tree_vars.mean(0))
    # inside the data's box no extrapolation: a sample is one tree, each tree used once per 10
    inside = s.predict(torch.as_tensor(_data(5, 1)[0]).unsqueeze(0))
    assert torch.all(inside.tree_vars == 0)
    samples = inside.sample(20, torch.Generator().manual_seed(0))
    used = [int(torch.nonzero((inside.tree_means == smp).all(-1).all(-1))[0]) for smp in samples]
    assert sorted(used) == sorted(list(range(10)) * 2)


def test_fit_is_deterministic_for_a_seed_and_trees_differ():
    x, y = _data(25)
    xt = torch.rand(5, 1, 2, dtype=torch.float64)
    a, b, c = RandomForestSurrogate(seed=3), RandomForestSurrogate(seed=3), RandomForestSurrogate(seed=4)
    for s in (a, b, c):
        s.fit(x, y)
    assert torch.equal(a.predict(xt).mean, b.predict(xt).mean)
    assert not torch.equal(a.predict(xt).mean, c.predict(xt).mean)
    assert (a.predict(xt).tree_means.std(0) > 0).all()


def test_variance_is_larger_far_from_the_data_than_at_it():
    # two clusters with different values: in the gap between them the trees disagree
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.random((15, 2)) * [0.2, 1.0], 0.8 + rng.random((15, 2)) * [0.2, 0.0]])
    x[15:, 1] = rng.random(15)
    y = (x[:, 0] > 0.5).astype(float)
    s = RandomForestSurrogate(seed=0)
    s.fit(x, y)
    at_data = s.predict(torch.as_tensor(x).unsqueeze(-2)).variance.squeeze(-1)
    gap = s.predict(torch.tensor([[[0.5, 0.3]], [[0.5, 0.7]]], dtype=torch.float64)).variance.squeeze(-1)
    assert gap.min() > 5 * at_data.mean(), (gap, at_data.mean())
    # beyond the data (all of it in one corner) the extrapolation term grows with the distance
    corner = rng.random((20, 2)) * 0.3
    s.fit(corner, corner.sum(1))
    probe = torch.tensor([[[0.15, 0.15]], [[0.55, 0.55]], [[0.95, 0.95]]], dtype=torch.float64)  # 0.5 would read as inactive
    v = s.predict(probe).variance.squeeze(-1)
    assert v[0] < v[1] < v[2] and v[2] > 4 * v[0]
    assert torch.all(s.predict(probe[:1]).tree_vars == 0)


def test_without_the_extrapolation_term_the_variance_is_the_spread_of_the_trees():
    s = RandomForestSurrogate(extrapolation=0.0)
    s.fit(*_data(20))
    pred = s.predict(torch.tensor([[[1.0, 1.0], [0.0, 0.0]]], dtype=torch.float64) * 3 - 1)
    assert torch.all(pred.tree_vars == 0)
    assert torch.allclose(pred.variance, pred.tree_means.var(0, unbiased=False))


def test_inactive_conditional_parameters_are_imputed_outside_the_cube():
    space = SearchSpace({"m": Choice({"a": {"u": Float(0, 1)}, "b": {"v": Float(0, 1)}})})
    x = space.encode([{"m": "a", "u": 0.9}, {"m": "b", "v": 0.1}])
    assert x[0, 2] == INACTIVE_VALUE and x[1, 1] == INACTIVE_VALUE
    imputed = RandomForestSurrogate()._impute(x)
    assert imputed[0, 2] == -1.0 and imputed[1, 1] == -1.0
    assert imputed[0, 1] == x[0, 1] and imputed[1, 2] == x[1, 2]
    assert np.array_equal(RandomForestSurrogate(inactive_value=None)._impute(x), x)


def test_conditional_space_each_branch_is_predicted_from_its_own_parameter():
    # branch a: y depends on u (v inactive); branch b: y depends on v (u inactive) and is
    # offset. The u and v columns hold 0.5 wherever they are inactive.
    space = SearchSpace({"m": Choice({"a": {"u": Float(0, 1)}, "b": {"v": Float(0, 1)}}), "c": Categorical(["p", "q"])})

    def f(c):
        return 4 * (c["u"] - 0.3) ** 2 if c["m"] == "a" else 2.0 + np.sin(6 * c["v"])

    rng = np.random.default_rng(0)
    configs = space.decode(rng.random((80, space.d)))
    x, y = space.encode(configs), np.array([f(c) for c in configs])
    s = RandomForestSurrogate(seed=0)
    s.fit(x, y, cat_dims={0: 2, 3: 2})
    grid = np.linspace(0.05, 0.95, 10)
    for branch, name in (("a", "u"), ("b", "v")):
        probe = [{"m": branch, name: float(g), "c": "p"} for g in grid]
        pred = s.predict(torch.as_tensor(space.encode(probe)).unsqueeze(-2)).mean.squeeze(-1).numpy()
        truth = np.array([f(c) for c in probe])
        assert np.max(np.abs(pred - truth)) < 0.5, (branch, pred, truth)
        assert np.corrcoef(pred, truth)[0, 1] > 0.9, (branch, pred, truth)
    # the branches are told apart although u = v = 0.5 would be the same point unimputed
    both = space.encode([{"m": "a", "u": 0.3, "c": "p"}, {"m": "b", "v": 0.3, "c": "p"}])
    means = s.predict(torch.as_tensor(both).unsqueeze(-2)).mean.squeeze(-1).numpy()
    assert means[1] - means[0] > 2.0


def test_fit_and_predict_are_fast():
    rng = np.random.default_rng(0)
    x = rng.random((100, 4))
    y = np.sin(3 * x[:, 0]) + x[:, 1]
    s = RandomForestSurrogate()
    s.fit(x, y)
    start = time.perf_counter()
    s.fit(x, y)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    _ = s.predict(torch.rand(6144, 1, 4, dtype=torch.float64)).variance
    predict_s = time.perf_counter() - start
    assert fit_s < 1.0 and predict_s < 1.0  # about 0.06 s each on 2 busy cores


def test_predict_ignores_gradients_and_rejects_bad_input():
    s = RandomForestSurrogate()
    with pytest.raises(RuntimeError, match="before fit"):
        s.predict(torch.rand(1, 1, 2))
    s.fit(*_data(10))
    xt = torch.rand(3, 1, 2, dtype=torch.float64, requires_grad=True)
    assert not s.predict(xt).mean.requires_grad
    with pytest.raises(ValueError, match="columns"):
        s.predict(torch.rand(3, 1, 5))
    for kwargs, match in (({"n_trees": 1}, "n_trees"), ({"max_features": 0.0}, "max_features"),
                          ({"splitter": "x"}, "splitter"), ({"extrapolation": -1}, "extrapolation"),
                          ({"impute_value": 0.2}, "impute_value")):  # fmt: skip
        with pytest.raises(ValueError, match=match):
            RandomForestSurrogate(**kwargs)


# ----------------------------------------------------------------- studies
def _per_epoch(config, budget):
    """Closed form: a quadratic in x (offset per branch, if any) that decays with epochs."""
    if config.get("m", "a") == "a":
        base = (config["x"] - 0.3) ** 2
    else:
        base = 0.2 + (config["z"] - 0.6) ** 2
    loss = math.inf
    for epoch in range(budget.start, budget.stop):
        loss = base + 1.0 / (epoch + 1)
        hpo.report(loss=loss, step=epoch)
    return {"loss": loss}


@pytest.mark.parametrize(
    "space",
    [
        {"x": Float(0.0, 1.0), "y": Float(0.0, 1.0), "c": Categorical(["p", "q", "r"])},
        {"m": Choice({"a": {"x": Float(0.0, 1.0)}, "b": {"z": Float(0.0, 1.0), "k": Categorical(["p", "q"])}})},
    ],
    ids=["flat", "conditional"],
)
def test_asha_study_with_the_forest_surrogate(space):
    f = hpo.tune(space=space, metric="loss", mode="min", scheduler="asha", surrogate="forest", budget=hpo.Budget(1, 9))(_per_epoch)
    study = f.study(executor="inprocess", workers=2, seed=0)
    assert study.scheduler.searcher.surrogate.__class__ is RandomForestSurrogate
    try:
        result = study.optimize(n_trials=12)
    finally:
        study.close()
    assert len(result.trials) == 12
    assert not [t for t in result.trials if t.status is TrialStatus.FAILED], [(t.status, t.reason) for t in result.trials]
    assert any((t.reached or 0) > 1 for t in result.trials)
    assert result.incumbent is not None and np.isfinite(result.incumbent.value)
    searcher = study.scheduler.searcher
    # a conditional space is searched by one model per option (hpo.searchers._bo_branches): forests too
    models = [searcher.surrogate, *searcher._option_surrogates.values()]
    assert all(type(m) is RandomForestSurrogate for m in models)
    assert any(m.trees for m in models), "the forest never made a suggestion"
