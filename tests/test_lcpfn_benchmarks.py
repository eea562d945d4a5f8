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


def _block(lcpfn_se: float, last_se: float, ll: float = 1.0, mcmc_ll: float = 0.5) -> dict:
    cell = {"ll": [ll], "se": [lcpfn_se], "seconds": [0.01]}
    return {"lcpfn": cell, "lcpfn on the MCMC curves": cell, "mcmc": {"ll": [mcmc_ll], "se": [1.0], "seconds": [5.0]},
            "last": {"ll": [0.0], "se": [last_se], "seconds": [0.0]}}  # fmt: skip


def test_lcpfn_acceptance_table_applies_the_cutoff_rules_and_the_paper_prior_margin():
    from benchmarks.lcpfn.tables import acceptance

    def variant(real_se: dict[int, float], prior_ll: float, coverage: float) -> dict:
        recal = {"median": 0.97, "q1": 0.9, "q3": 0.99}  # the check is made on the recalibrated median
        return {"real": {"set": {c: _block(se, 0.02) for c, se in real_se.items()}},
                "prior": {c: _block(0.0, 0.0, ll=prior_ll) for c in (10, 20)},
                "calibration": {"set": {"cutoff": 40, "coverage_90": coverage, "n": 1, "recalibrated": recal}}}  # fmt: skip

    results = {"variants": {"mixture": variant({10: 0.05, 20: 0.01, 80: 0.03}, 1.95, 0.85),
                            "paper": variant({10: 0.04, 20: 0.03, 80: 0.01}, 2.0, 0.6)}}  # fmt: skip
    text = "\n".join(acceptance(results))
    assert "| set | 10% | 1 | 5.00e-02 | 4.00e-02 | 2.00e-02 | no | no | no worse than paper: **missed** |" in text
    assert "| set | 20% | 1 | 1.00e-02 | 3.00e-02 | 2.00e-02 | yes | yes | beat last value: **met** |" in text
    assert "| set | 80% | 1 | 3.00e-02 | 1.00e-02 | 2.00e-02 | no | no | beat last value: **missed** |" in text
    assert "| 10 | 1 | 1.950 | 2.000 | -0.050 **met** |" in text  # within 0.1 nats of the paper weights
    assert "| set | 1 | 97.0% [90.0%, 99.0%] | 85.0% | 60.0% | **missed** |" in text  # above 95%: too wide
