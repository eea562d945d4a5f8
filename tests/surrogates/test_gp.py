import numpy as np
import pytest
import torch

from hpo.surrogates.gp import GPSurrogate
from hpo.testing import SurrogateContract


class TestGPSurrogate(SurrogateContract):
    def make_surrogate(self):
        return GPSurrogate()


def _data(n, d, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, d))
    return x, np.sin(4 * x[:, 0]) + 0.1 * rng.standard_normal(n)


def _fitted_with_queries(cat_dims, batch, q):
    """A GP fitted on 30 points in 3-d (column 2 categorical with ``cat_dims``) and `batch x q x 3` queries."""
    x, y = _data(30, 3)
    if cat_dims:
        x[:, 2] = (np.random.default_rng(1).integers(0, 4, 30) + 0.5) / 4
    gp = GPSurrogate()
    gp.fit(x, y, cat_dims)
    xt = torch.rand(batch, q, 3, dtype=torch.float64)
    if cat_dims:
        xt[..., 2] = (torch.randint(0, 4, (batch, q)) + 0.5) / 4
    return gp, xt


def test_fast_predictive_equals_the_botorch_posterior():
    for cat_dims in (None, {2: 4}):
        gp, xt = _fitted_with_queries(cat_dims, 9, 1)
        ours = gp.predict(xt)
        ref = gp.botorch_model.posterior(gp._to_model_inputs(xt))
        assert torch.allclose(ours.mean, ref.mean.squeeze(-1), atol=1e-8)
        assert torch.allclose(ours.variance, ref.variance.squeeze(-1), atol=1e-8)


def test_joint_samples_have_the_botorch_posterior_covariance_and_carry_gradients():
    for cat_dims in (None, {2: 4}):
        gp, xt = _fitted_with_queries(cat_dims, 5, 4)
        mean, cov = gp.predict(xt).joint()
        with torch.no_grad():
            ref = gp.botorch_model.posterior(gp._to_model_inputs(xt)).distribution
        std = float(gp.botorch_model.outcome_transform.stdvs)
        assert torch.allclose(cov * std**2, ref.covariance_matrix, atol=1e-8)
        xg = xt.clone().requires_grad_(True)
        samples = gp.predict(xg).sample(4000, torch.Generator().manual_seed(0))
        assert samples.shape == (4000, 5, 4)
        emp = torch.cov(samples[:, 0].detach().T)
        assert torch.allclose(emp, ref.covariance_matrix[0], atol=0.1 * float(ref.covariance_matrix[0].diagonal().max()))
        samples.sum().backward()
        assert xg.grad is not None and torch.isfinite(xg.grad).all() and xg.grad[..., :2].abs().sum() > 0


def test_model_is_a_float64_botorch_gp_with_learned_noise():
    from botorch.models import MixedSingleTaskGP, SingleTaskGP

    x, y = _data(25, 2)
    gp = GPSurrogate()
    gp.fit(x, y)
    assert isinstance(gp.botorch_model, SingleTaskGP)
    assert gp.botorch_model.train_inputs[0].dtype == torch.float64
    assert type(gp.botorch_model.covar_module.base_kernel).__name__ == "MaternKernel"
    noise = float(gp.botorch_model.likelihood.noise.detach())
    assert 1e-4 < noise < 0.2  # fitted to the 0.1-std noise, not left at its initial value
    x[:, 1] = (np.arange(25) % 3 + 0.5) / 3
    gp.fit(x, y, {1: 3})
    assert isinstance(gp.botorch_model, MixedSingleTaskGP)


def test_ard_finds_the_relevant_dimension():
    x, y = _data(60, 4, seed=2)
    gp = GPSurrogate()
    gp.fit(x, y)
    ls = gp.lengthscales.numpy()
    assert ls[0] < min(ls[1:]) / 2


def test_warm_start_and_lazy_refits():
    gp = GPSurrogate(full_refit_until=20, refit_every=5)
    for n in range(10, 41):
        x, y = _data(n, 2, seed=3)
        gp.fit(x, y)
    assert gp.n_fits == 31
    # every fit up to 20 points re-fits; above, only every 5 new points
    assert gp.n_refits == 11 + 4


def test_subsamples_large_data():
    x, y = _data(400, 2, seed=4)
    gp = GPSurrogate(max_points=150, max_fit_points=60)
    gp.fit(x, y)
    assert gp.botorch_model.train_inputs[0].shape == (150, 2)
    # the best points are always kept
    kept = gp.botorch_model.train_inputs[0].numpy()
    best = x[np.argsort(-y)[:10]]
    assert all(np.any(np.all(np.isclose(kept, b), axis=1)) for b in best)


class TestGPSurrogateDimScaled(SurrogateContract):
    def make_surrogate(self):
        return GPSurrogate(lengthscale_prior="dimscaled")


def test_lengthscale_prior_is_selectable_and_dimension_scaled():
    import math

    import pytest
    from gpytorch.priors import GammaPrior, LogNormalPrior

    x, y = _data(40, 10)
    fitted = {}
    for name in ("gamma", "dimscaled"):
        gp = GPSurrogate(lengthscale_prior=name)
        gp.fit(x, y)
        prior = gp.botorch_model.covar_module.base_kernel.lengthscale_prior
        fitted[name] = gp.botorch_model.covar_module.base_kernel.lengthscale.detach().reshape(-1)
        if name == "gamma":
            assert isinstance(prior, GammaPrior)
        else:  # Hvarfner et al. 2024: LogNormal(sqrt(2) + log(d) / 2, sqrt(3)), d = 10
            assert isinstance(prior, LogNormalPrior)
            assert float(prior.loc) == pytest.approx(math.sqrt(2) + math.log(10) / 2)
    # only column 0 moves y: the irrelevant columns' lengthscales are longer under the wider prior
    assert float(fitted["dimscaled"][1:].median()) > float(fitted["gamma"][1:].median())
    with pytest.raises(ValueError, match="lengthscale_prior"):
        GPSurrogate(lengthscale_prior="rbf")


def _categorical_data(n, seed=0):
    """A float and two 4-way categoricals; the value is mostly the categoricals' (sum of codes)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 3))
    codes = rng.integers(0, 4, (n, 2))
    x[:, 1:] = (codes + 0.5) / 4
    return x, 0.3 * x[:, 0] + codes.sum(1) + 0.01 * rng.standard_normal(n)


def _collapse_categorical_outputscales(gp):
    """Put the stored hyperparameters where a warm start got stuck on ``dbr-cats``: the
    categorical kernels' outputscales at ~0 (softplus(-30)), where their gradient vanishes."""
    keys = [k for k in gp._hyper if k.endswith("raw_outputscale") and k != "covar_module.kernels.0.raw_outputscale"]
    assert keys
    for k in keys:
        gp._hyper[k] = torch.full_like(gp._hyper[k], -30.0)


def _categorical_outputscale(gp):
    return max(
        float(m.outputscale.detach().max())
        for name, m in gp.botorch_model.named_modules()
        if hasattr(m, "outputscale") and name != "covar_module.kernels.0"
    )


def test_a_cold_restart_leaves_a_collapsed_warm_start():
    from hpo.surrogates._gp_fit import neg_log_posterior

    fits = {}
    for growth in (None, 1.5):
        gp = GPSurrogate(restart_growth=growth)
        gp.fit(*_categorical_data(20), {1: 4, 2: 4})
        _collapse_categorical_outputscales(gp)
        gp.fit(*_categorical_data(30), {1: 4, 2: 4})  # 30 >= 1.5 x 20: a cold fit beside the warm one
        gp.botorch_model.train()
        with torch.no_grad():
            fits[growth] = (_categorical_outputscale(gp), float(neg_log_posterior(gp.botorch_model)))
    # warm starts alone stay where the categoricals explain nothing; the restart finds them, with a higher posterior
    assert fits[None][0] < 1e-6
    assert fits[1.5][0] > 0.05
    assert fits[1.5][1] < fits[None][1] - 0.5


def test_cold_restarts_follow_the_growth_of_the_data():
    gp = GPSurrogate(restart_growth=2.0)
    colds = []
    for n in (4, 6, 7, 8, 15, 16, 17):
        before = gp._n_at_last_cold
        gp.fit(*_data(n, 2, seed=5))
        if gp._n_at_last_cold != before:
            colds.append(n)
    assert colds == [4, 8, 16]
    with pytest.raises(ValueError, match="restart_growth"):
        GPSurrogate(restart_growth=1.0)
