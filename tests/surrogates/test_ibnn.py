import numpy as np
import pytest
import torch

from hpo._registry import SURROGATES
from hpo.surrogates.ibnn import InfiniteWidthBNNSurrogate
from hpo.testing import SurrogateContract


class TestInfiniteWidthBNNSurrogate(SurrogateContract):
    def make_surrogate(self):
        return InfiniteWidthBNNSurrogate()


def _data(n, d=2, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    return x, np.sin(3 * x[:, 0]) + 0.5 * np.cos(5 * x[:, 1])


def test_registered_as_ibnn():
    s = SURROGATES.build("ibnn", seed=1)
    assert isinstance(s, InfiniteWidthBNNSurrogate) and s.differentiable


def test_model_is_a_float64_botorch_gp_with_the_ibnn_kernel():
    from botorch.models import SingleTaskGP
    from botorch.models.kernels.infinite_width_bnn import InfiniteWidthBNNKernel

    s = InfiniteWidthBNNSurrogate(depth=2)
    s.fit(*_data(20))
    assert isinstance(s.botorch_model, SingleTaskGP)
    assert isinstance(s.botorch_model.covar_module, InfiniteWidthBNNKernel)
    assert s.botorch_model.covar_module.depth == 2
    assert s.botorch_model.train_inputs[0].dtype == torch.float64
    # Li et al.'s variances stay fixed by default; the noise is fitted
    kernel = s.botorch_model.covar_module
    assert float(kernel.weight_var.detach()) == pytest.approx(10.0) and float(kernel.bias_var.detach()) == pytest.approx(1.3)
    learned = InfiniteWidthBNNSurrogate(depth=2, learn_variances=True)
    learned.fit(*_data(20))
    # with learn_variances they move away from their start (fitted by marginal likelihood)
    assert abs(float(learned.botorch_model.covar_module.weight_var.detach()) - 10.0) > 1e-3


def test_bo_with_ibnn_finds_branins_basin():
    # Regression: with the variances fitted, the fit explained Branin as noise and the
    # searcher proposed one corner for 25 suggestions in a row (best 11.6 after 30).
    from botorch.test_functions import Branin

    from hpo.search_spaces import Float, SearchSpace
    from hpo.searchers import BOSearcher
    from hpo.trial import Observation, TrialStatus

    fn = Branin()
    searcher = BOSearcher(SearchSpace({"x0": Float(-5.0, 10.0), "x1": Float(0.0, 15.0)}), seed=0, surrogate="ibnn")
    searcher.set_objective("value", "min")
    values, configs = [], []
    for i in range(25):
        (c,) = searcher.suggest(1)
        v = float(fn(torch.tensor([[c["x0"], c["x1"]]], dtype=torch.float64)))
        values.append(v)
        configs.append((round(c["x0"], 6), round(c["x1"], 6)))
        searcher.observe([Observation(i + 1, c, TrialStatus.COMPLETED, 1.0, {"value": v}, 0.0, (v,))])
    assert min(values) < 4.0  # optimum 0.398; the broken fit stayed above 11
    assert len(set(configs)) >= 20


def test_predictive_equals_the_botorch_posterior_with_one_hot_categories():
    x, y = _data(30, 3)
    x[:, 2] = (np.random.default_rng(1).integers(0, 4, 30) + 0.5) / 4
    s = InfiniteWidthBNNSurrogate()
    s.fit(x, y + x[:, 2], cat_dims={2: 4})
    xt = torch.rand(5, 3, 3, dtype=torch.float64)
    xt[..., 2] = (torch.randint(0, 4, (5, 3)) + 0.5) / 4
    x_model = s._to_model_inputs(xt)
    assert x_model.shape == (5, 3, 6) and torch.equal(x_model[..., 2:].sum(-1), torch.ones(5, 3, dtype=torch.float64))
    ours = s.predict(xt)
    with torch.no_grad():
        ref = s.botorch_model.posterior(x_model)
    assert torch.allclose(ours.mean, ref.mean.squeeze(-1), atol=1e-8)
    # The kernel's full matrix clamps cos(angle) to 1 - 1e-7, so its diagonal is a little
    # below the exact one that ``diag=True`` (our variance) gives: a few 1e-6 here.
    assert torch.allclose(ours.variance, ref.variance.squeeze(-1), atol=2e-5)
    mean, cov = ours.joint()
    std = float(s.botorch_model.outcome_transform.stdvs)
    assert torch.allclose(cov * std**2, ref.distribution.covariance_matrix, atol=1e-8)


def test_variance_grows_away_from_the_data():
    rng = np.random.default_rng(3)
    x = 0.25 + 0.2 * rng.random((25, 2))  # data in a small square
    y = np.sin(3 * x[:, 0]) + x[:, 1]
    s = InfiniteWidthBNNSurrogate()
    s.fit(x, y)
    probes = torch.tensor([[0.35, 0.35], [0.6, 0.6], [0.8, 0.8], [1.0, 1.0]], dtype=torch.float64).unsqueeze(-2)
    var = s.predict(probes).variance.squeeze(-1).detach()
    assert torch.all(var[1:] > var[:-1]), var
    assert var[-1] > 10 * var[0]


def test_refit_warm_starts_from_the_previous_hyperparameters(monkeypatch):
    import botorch.fit

    starts = []
    fit_gpytorch_mll = botorch.fit.fit_gpytorch_mll

    def recording_fit(mll, **kwargs):
        starts.append(float(mll.model.covar_module.weight_var.detach()))
        return fit_gpytorch_mll(mll, **kwargs)

    monkeypatch.setattr(botorch.fit, "fit_gpytorch_mll", recording_fit)
    s = InfiniteWidthBNNSurrogate(learn_variances=True)
    s.fit(*_data(15))
    first = float(s.botorch_model.covar_module.weight_var.detach())
    s.fit(*_data(18))
    cold = InfiniteWidthBNNSurrogate(learn_variances=True, warm_start=False)
    cold.fit(*_data(15))
    cold.fit(*_data(18))
    assert starts[:2] == [10.0, first] and starts[2:] == [10.0, 10.0]


def test_a_failed_botorch_fit_falls_back_to_fit_map(monkeypatch):
    import botorch.fit
    from botorch.exceptions.errors import ModelFittingError

    from hpo.surrogates import _gp_fit

    def failing_fit(mll, **kwargs):
        mll.model.covar_module.weight_var = 123.0  # left in a bad state
        raise ModelFittingError("All attempts to fit the model have failed.")

    starts = []
    fit_map = _gp_fit.fit_map

    def recording_fit_map(model, maxiter=100):
        starts.append(float(model.covar_module.weight_var.detach()))
        return fit_map(model, maxiter=maxiter)

    monkeypatch.setattr(botorch.fit, "fit_gpytorch_mll", failing_fit)
    monkeypatch.setattr(_gp_fit, "fit_map", recording_fit_map)
    s = InfiniteWidthBNNSurrogate(learn_variances=True)
    x, y = _data(20)
    s.fit(x, y)
    assert len(starts) == 1 and abs(starts[0] - 10.0) < 1e-9  # from the start, not the failed state
    pred = s.predict(torch.as_tensor(x[:5], dtype=torch.float64).unsqueeze(-2)).mean.squeeze(-1).detach().numpy()
    assert np.abs(pred - y[:5]).max() < 0.1


def test_posterior_covariance_stays_positive_definite_as_the_prior_variance_grows():
    # With BoTorch's default acos_eps (1e-7) this fit (bias variance > 100) gave joint
    # covariances with eigenvalues down to -0.24 and joint sampling failed.
    rng = np.random.default_rng(100)
    x = rng.random((103, 3))
    y = np.sin(3 * x[:, 0]) + 0.5 * np.cos(5 * x[:, 1]) + x[:, 2] ** 2
    s = InfiniteWidthBNNSurrogate(learn_variances=True)
    s.fit(x[:100], y[:100])
    s.fit(x, y)
    xq = torch.rand(256, 4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(100))
    _, cov = s.predict(xq).joint()
    assert torch.linalg.eigvalsh(cov).min() > 0
    xg = xq[:64].clone().requires_grad_(True)
    s.predict(xg).sample(128, torch.Generator().manual_seed(0)).sum().backward()
    assert xg.grad is not None and torch.isfinite(xg.grad).all()


def test_fit_leaves_the_global_rng_alone():
    state = torch.random.get_rng_state()
    InfiniteWidthBNNSurrogate().fit(*_data(20))
    assert torch.equal(state, torch.random.get_rng_state())
