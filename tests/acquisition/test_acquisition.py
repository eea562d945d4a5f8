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
