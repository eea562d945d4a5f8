import math

import numpy as np
import pytest
import torch

from hpo.acquisition import UCB, LogEI, ThompsonSampling, optimize_acquisition
from hpo.acquisition.functions import log_h
from hpo.search_spaces import Categorical, Choice, Float, Int, SearchSpace
from hpo.testing import FunctionSurrogate


def test_log_h_matches_the_direct_formula_and_stays_finite_in_the_tail():
    z = torch.linspace(-5, 5, 101, dtype=torch.float64)
    normal = torch.distributions.Normal(0.0, 1.0)
    direct = torch.log(torch.exp(normal.log_prob(z)) + z * normal.cdf(z))
    assert torch.allclose(log_h(z), direct, rtol=1e-8, atol=1e-10)
    tail = torch.tensor([-20.0, -100.0, -1e4], dtype=torch.float64, requires_grad=True)
    values = log_h(tail)
    values.sum().backward()
    assert torch.isfinite(values).all() and torch.isfinite(tail.grad).all()
    # asymptote: log h(z) ~ -z^2/2 - log(sqrt(2 pi)) - 2 log|z|
    assert values[1].item() == pytest.approx(-5000 - 0.5 * math.log(2 * math.pi) - 2 * math.log(100), rel=1e-6)


def test_log_ei_equals_log_of_monte_carlo_ei():
    surrogate = FunctionSurrogate(lambda x: x[..., 0] * 0 + 0.2, variance=0.25)
    value = LogEI(surrogate, best_f=0.5)(torch.zeros(1, 1, 1, dtype=torch.float64)).item()
    samples = 0.2 + 0.5 * torch.randn(2_000_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mc = torch.clamp(samples - 0.5, min=0).mean().item()
    assert value == pytest.approx(math.log(mc), abs=5e-3)


def test_ucb_and_thompson():
    surrogate = FunctionSurrogate(lambda x: -((x[..., 0] - 0.3) ** 2), variance=1e-8)
    x = torch.linspace(0, 1, 11, dtype=torch.float64).reshape(11, 1, 1)
    assert int(UCB(surrogate, beta=4.0)(x).argmax()) == 3
    ts = ThompsonSampling(surrogate, torch.Generator().manual_seed(0))
    assert int(ts(x).argmax()) == 3


SPACE = SearchSpace({"a": Float(0, 1), "b": Float(1e-3, 1, log=True), "n": Int(0, 10), "c": Categorical(["x", "y", "z"])})


def _peak(x):
    # maximum at a=0.7, b cell near 0.25 (unit), n near 0.6 (unit), c == "z" (cell 2)
    bonus = torch.where(x[..., 3] > 2 / 3, 1.0, 0.0)
    return -((x[..., 0] - 0.7) ** 2) - (x[..., 1] - 0.25) ** 2 - (x[..., 2] - 0.6) ** 2 + bonus


def test_mixed_optimizer_finds_the_peak():
    acq = UCB(FunctionSurrogate(_peak, variance=1e-10), beta=0.0)
    x, value = optimize_acquisition(acq, SPACE, np.random.default_rng(0))
    config = SPACE.decode(x[None, :])[0]
    assert config["c"] == "z"
    assert abs(x[0] - 0.7) < 0.01 and abs(x[1] - 0.25) < 0.01
    assert abs(config["n"] - 6) <= 1
    assert SPACE.contains(config)


def test_optimizer_handles_conditional_spaces():
    space = SearchSpace({"m": Choice({"lin": {"w": Float(0, 1)}, "quad": {"v": Float(0, 1)}})})

    def mean(x):  # best: m == "quad" (selector cell 1) with v (column 2) at 0.8
        quad = x[..., 0] > 0.5
        return torch.where(quad, 1.0 - (x[..., 2] - 0.8) ** 2, 0.5 - (x[..., 1] - 0.2) ** 2)

    x, _ = optimize_acquisition(UCB(FunctionSurrogate(mean, 1e-10), beta=0.0), space, np.random.default_rng(1))
    config = space.decode(x[None, :])[0]
    assert config["m"] == "quad" and abs(config["v"] - 0.8) < 0.02
    assert x[1] == 0.5  # the inactive column holds the space's inactive value


# ----------------------------------------------------------------- Monte-Carlo qLogNEI


def test_smoothings_match_botorch_reference():
    from botorch.utils import safe_math

    from hpo.acquisition import _smooth

    x = torch.linspace(-3, 3, 60, dtype=torch.float64).reshape(3, 20) * torch.tensor([[1.0], [1e-3], [1e-7]], dtype=torch.float64)
    for tau in (1e-6, 1e-2, 1.0):
        assert torch.allclose(_smooth.log_fatplus(x, tau), safe_math.log_fatplus(x, tau=tau), rtol=1e-10)
        assert torch.allclose(_smooth.log_softplus(x, tau), safe_math.log_softplus(x, tau=tau), rtol=1e-10)
        assert torch.allclose(_smooth.fatmax(x, tau, dim=-1), safe_math.fatmax(x, dim=-1, tau=tau), rtol=1e-10)
        assert torch.allclose(_smooth.smooth_amax(x, tau, dim=-1), safe_math.smooth_amax(x, dim=-1, tau=tau), rtol=1e-10)
    with_inf = torch.tensor([[-math.inf, 0.5], [-math.inf, -math.inf]], dtype=torch.float64)
    assert torch.equal(_smooth.fatmax(with_inf, 1e-2), safe_math.fatmax(with_inf, dim=-1, tau=1e-2))


def test_qlognei_is_the_log_of_the_mc_improvement_over_observed_and_pending():
    from hpo.acquisition import QLogNEI

    surrogate = FunctionSurrogate(lambda x: x[..., 0], variance=0.04)
    base = torch.tensor([[0.2], [0.5]], dtype=torch.float64)
    pending = torch.tensor([[0.6]], dtype=torch.float64)
    acq = QLogNEI(surrogate, base, pending, n_samples=4096, seed=3, prune_baseline=False)
    x = torch.tensor([[[0.4]], [[0.7]], [[0.9]]], dtype=torch.float64)
    joint = torch.cat([x, torch.cat([pending, base]).expand(3, 3, 1)], dim=-2)
    samples = surrogate.predict(joint).sample(4096, torch.Generator().manual_seed(3))
    improvement = (samples[..., 0] - samples[..., 1:].amax(-1)).clamp_min(0).mean(0)
    assert torch.allclose(acq(x), improvement.log(), atol=1e-4)
    # the running trial counts: without it the same candidates score higher
    alone = QLogNEI(surrogate, base, None, n_samples=4096, seed=3, prune_baseline=False)
    assert (alone(x) > acq(x)).all()


def test_qlognei_candidates_next_to_a_pending_point_lose_value():
    from hpo.acquisition import QLogNEI
    from hpo.surrogates.gp import GPSurrogate

    rng = np.random.default_rng(0)
    x = rng.random((15, 1))
    y = np.sin(6 * x[:, 0])
    gp = GPSurrogate()
    gp.fit(x, y)
    grid = torch.linspace(0, 1, 201, dtype=torch.float64).reshape(-1, 1, 1)
    free = QLogNEI(gp, torch.as_tensor(x), None, seed=0)(grid).detach()
    top = grid[int(free.argmax())].reshape(1, 1)
    busy = QLogNEI(gp, torch.as_tensor(x), top, seed=0)(grid).detach()
    i = int(free.argmax())
    assert busy[i] < free[i] - 2.0  # the pending point's improvement is no longer new
    assert int(busy.argmax()) != i


def test_prune_keeps_the_likely_best_points_within_the_cap():
    from hpo.acquisition import prune_inferior_points

    x = torch.linspace(0, 1, 11, dtype=torch.float64).reshape(-1, 1)
    sharp = FunctionSurrogate(lambda z: -((z[..., 0] - 0.7) ** 2), variance=1e-10)
    assert torch.equal(prune_inferior_points(sharp, x), x[7:8])
    flat = FunctionSurrogate(lambda z: z[..., 0] * 0, variance=1.0)
    assert len(prune_inferior_points(flat, x)) == 11
    assert len(prune_inferior_points(flat, x, max_points=4)) == 4


class _StepSurrogate(FunctionSurrogate):
    """A surrogate whose predictions carry no gradient (e.g. a tree ensemble)."""

    differentiable = False

    def predict(self, x_unit):
        x = torch.as_tensor(x_unit, dtype=torch.float64).detach()
        return super().predict(torch.floor(x * 20) / 20)


def test_optimizer_skips_gradients_for_non_differentiable_surrogates(monkeypatch):
    from hpo.acquisition import optimize as opt

    def no_refine(*args, **kwargs):
        raise AssertionError("L-BFGS refinement on a non-differentiable surrogate")

    monkeypatch.setattr(opt, "_refine", no_refine)
    acq = UCB(_StepSurrogate(_peak, variance=1e-10), beta=0.0)
    x, _ = optimize_acquisition(acq, SPACE, np.random.default_rng(0))
    config = SPACE.decode(x[None, :])[0]
    assert SPACE.contains(config) and config["c"] == "z"
    assert abs(x[0] - 0.7) < 0.1


def test_qlognei_reproduces_botorch_on_a_gp():
    import warnings

    from botorch.acquisition.logei import qLogNoisyExpectedImprovement
    from botorch.sampling import SobolQMCNormalSampler

    from hpo.acquisition import QLogNEI
    from hpo.surrogates.gp import GPSurrogate

    rng = np.random.default_rng(1)
    x = rng.random((12, 2))
    y = np.sin(5 * x[:, 0]) * np.cos(3 * x[:, 1])
    gp = GPSurrogate()
    gp.fit(x, y)
    base, pending = torch.as_tensor(x), torch.tensor([[0.3, 0.2]], dtype=torch.float64)
    ours = QLogNEI(gp, base, pending, n_samples=4096, seed=0, prune_baseline=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = qLogNoisyExpectedImprovement(
            gp.botorch_model, base, sampler=SobolQMCNormalSampler(torch.Size([4096]), seed=0),
            X_pending=pending, prune_baseline=False, cache_root=False,
        )
    cand = torch.as_tensor(rng.random((40, 1, 2)))
    with torch.no_grad():
        a, b = ours(cand), ref(cand)
    good = b > b.max() - 3  # where 4096 samples estimate the (log) improvement well
    assert good.sum() >= 5
    assert torch.allclose(a[good], b[good], atol=0.05)
    assert int(a.argmax()) == int(b.argmax())
