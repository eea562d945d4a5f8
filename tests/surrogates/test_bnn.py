import time

import numpy as np
import pytest
import torch

from hpo._registry import SURROGATES
from hpo.surrogates.bnn import DeepEnsembleSurrogate, EnsemblePredictive
from hpo.testing import SurrogateContract


class TestDeepEnsembleSurrogate(SurrogateContract):
    def make_surrogate(self):
        return DeepEnsembleSurrogate(seed=0)


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 2))
    return x, np.sin(3 * x[:, 0]) + 0.5 * np.cos(5 * x[:, 1])


def test_registered_as_ensemble():
    assert isinstance(SURROGATES.build("ensemble", seed=1), DeepEnsembleSurrogate)


def test_predictive_is_the_mixture_of_members():
    s = DeepEnsembleSurrogate(n_members=5)
    s.fit(*_data(30))
    pred = s.predict(torch.rand(7, 2, 2, dtype=torch.float64))
    assert isinstance(pred, EnsemblePredictive)
    means, variances = pred.member_means, pred.member_vars
    assert means.shape == (5, 7, 2) and pred.mean.dtype == torch.float64
    assert torch.allclose(pred.mean, means.mean(0))
    # epistemic part of the mixture variance: mean of squares minus square of mean
    assert torch.allclose(pred.variance, (means**2).mean(0) - pred.mean**2, atol=1e-8)
    assert torch.allclose(pred.noise_variance, variances.mean(0))
    # samples are member functions, each member used equally often (n multiple of E)
    samples = pred.sample(10, torch.Generator().manual_seed(0))
    assert sorted(int(torch.nonzero((means == s_).all(-1).all(-1))[0]) for s_ in samples) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert torch.allclose(samples.mean(0), pred.mean) and torch.allclose(samples.var(0, unbiased=False), pred.variance)


def test_fit_is_deterministic_for_a_seed_and_members_differ():
    x, y = _data(25)
    xt = torch.rand(5, 1, 2, dtype=torch.float64)
    a, b, c = DeepEnsembleSurrogate(seed=3), DeepEnsembleSurrogate(seed=3), DeepEnsembleSurrogate(seed=4)
    for s in (a, b, c):
        s.fit(x, y)
    assert torch.equal(a.predict(xt).mean, b.predict(xt).mean)
    assert not torch.equal(a.predict(xt).mean, c.predict(xt).mean)
    assert (a.predict(xt).member_means.std(0) > 0).all()


def test_fit_is_fast_and_stops_early():
    x, y = _data(50)
    s = DeepEnsembleSurrogate()
    s.fit(x, y)  # warm-up (first-call overheads)
    start = time.perf_counter()
    s.fit(x, y)
    elapsed = time.perf_counter() - start
    assert s.n_steps <= s.max_steps
    assert elapsed < 5.0  # about 0.3-0.5 s on 2 idle cores; generous for loaded CI machines


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_members"):
        DeepEnsembleSurrogate(n_members=1)
    with pytest.raises(ValueError, match="subsample"):
        DeepEnsembleSurrogate(subsample=0.0)
    with pytest.raises(RuntimeError, match="before fit"):
        DeepEnsembleSurrogate().predict(torch.rand(1, 1, 2))
