"""The LC-PFN benchmark's own parts: the MCMC baseline (Domhan et al. 2015) and the early-stopping table."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("emcee")

from benchmarks.early_stopping import report  # noqa: E402
from benchmarks.lcpfn.mcmc import MCMCCurveModel  # noqa: E402


def test_mcmc_extrapolates_a_rising_curve_upwards():
    x = np.arange(1, 21, dtype=float)
    y = 0.8 - 0.5 * x**-0.7
    model = MCMCCurveModel(steps=60, burn=20, seed=0).fit(x, y, 100)
    final = model.mean([100.0])[0]
    assert y[-1] - 0.02 < final <= 1.0
    ll = model.log_likelihood(np.array([30.0, 100.0]), 0.8 - 0.5 * np.array([30.0, 100.0]) ** -0.7)
    assert np.isfinite(ll).all()


def test_mcmc_still_samples_when_no_family_fits_a_falling_curve():
    """The prior demands a rising curve; a falling prefix must not leave the sampler without a valid start."""
    x = np.arange(1, 11, dtype=float)
    y = np.linspace(0.9, 0.4, 10)
    model = MCMCCurveModel(steps=40, burn=10, seed=1).fit(x, y, 100)
    assert model.samples is not None and len(model.samples) > 0
    assert np.isfinite(model.log_likelihood(np.array([50.0]), np.array([0.4]))).all()


def test_early_stopping_table_counts_a_task_as_met_only_with_both_conditions():
    runs = []
    for seed in range(3):
        runs += [
            {"task": "1", "method": "hpo-fifo", "seed": seed, "epochs": 5200.0, "best": 90.0, "wall": 1.0, "stopped": 0},
            {"task": "1", "method": "hpo-fifo-lc", "seed": seed, "epochs": 2000.0, "best": 89.5, "wall": 2.0, "stopped": 50},
            {"task": "2", "method": "hpo-fifo", "seed": seed, "epochs": 5200.0, "best": 90.0, "wall": 1.0, "stopped": 0},
            {"task": "2", "method": "hpo-fifo-lc", "seed": seed, "epochs": 3000.0, "best": 90.0, "wall": 2.0, "stopped": 30},
            {"task": "3", "method": "hpo-fifo", "seed": seed, "epochs": 5200.0, "best": 90.0, "wall": 1.0, "stopped": 0},
            {"task": "3", "method": "hpo-fifo-lc", "seed": seed, "epochs": 1000.0, "best": 88.0, "wall": 2.0, "stopped": 80},
        ]
    text = report(runs, {"1": 91.0, "2": 91.0, "3": 91.0}, 100, ["cmd"], "machine", "w")
    # task 1: 0.38 of the epochs, 0.56 % worse -> met; task 2: 0.58 of the epochs; task 3: 2.2 % worse
    assert "| hpo-fifo-lc vs hpo-fifo | 1 | 0.38 [0.38, 0.38] | 0.56 [0.56, 0.56] | 0.5 [0.5, 0.5] | yes |" in text
    assert "meets on 1 of 3 tasks" in text
