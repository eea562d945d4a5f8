"""Recalibration of LC-PFN on a task's own finished curves (Kuleshov et al., ICML 2018)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")

from hpo.errors import SettingError  # noqa: E402
from hpo.surrogates.lcpfn import LCPFN  # noqa: E402
from hpo.surrogates.lcpfn.calibration import CalibratedLCPFN, Recalibration  # noqa: E402
from hpo.surrogates.lcpfn.stopping import StoppingRule  # noqa: E402


def test_without_curves_the_map_is_the_identity_and_it_inverts():
    cal = Recalibration()
    u = np.linspace(0, 1, 11)
    assert np.allclose(cal.cdf(u), u)
    cal.add([0.9, 0.95, 0.99])  # finals far above what the model predicted
    cal.add([0.8, 0.97])
    r = cal.cdf(u)
    assert np.all(np.diff(r) > 0) and r[0] == 0 and r[-1] == pytest.approx(1.0)  # strictly increasing CDF
    assert cal.cdf(0.5) < 0.5 * 3 / 5 + 1e-9  # mass moved above 0.8: R(0.5) = 3 * 0.5 / (3 + 2)
    q = np.array([0.05, 0.5, 0.95])
    level = cal.level(q)  # the generalised inverse: R jumps at recorded values
    assert np.all(cal.cdf(level + 1e-6) >= q) and np.all(cal.cdf(level - 1e-6) <= q)
    assert np.all(np.diff(level) > 0) and level[-1] == pytest.approx(0.99, abs=1e-6)  # 0.95 falls in the jump at 0.99


def test_prefixes_are_spread_between_min_steps_and_the_point_before_the_final():
    cal = Recalibration(max_prefixes=4, min_steps=3)
    assert cal.prefix_lengths(3) == []  # nothing before the final to score
    assert cal.prefix_lengths(5) == [3, 4]
    assert cal.prefix_lengths(50) == [3, 18, 34, 49]
    with pytest.raises(SettingError, match="prior_curves"):
        Recalibration(prior_curves=-1)


def _late_riser(rng: np.random.Generator, n: int = 40) -> np.ndarray:
    """A family LC-PFN's prior makes rare: flat for 60% of the run, then a large late gain (a schedule's drop)."""
    t = np.arange(1, n + 1)
    level = rng.uniform(0.3, 0.5)
    gain = rng.uniform(0.25, 0.35)
    y = level + 0.03 * (1 - np.exp(-t / 4)) + gain * (t > 0.6 * n) + rng.normal(0, 0.005, n)
    return np.clip(y, 0, 1)


def test_learning_from_a_task_family_widens_too_narrow_intervals():
    pfn = LCPFN.load()
    rng = np.random.default_rng(0)
    train = [_late_riser(rng) for _ in range(10)]
    test = [_late_riser(rng) for _ in range(30)]
    cal = CalibratedLCPFN(pfn)
    for curve in train:
        cal.observe(list(zip(np.arange(1.0, 41.0), curve, strict=True)), x_final=40)
    assert cal.calibration.n_curves == 10

    def coverage(model):
        x = [np.arange(1, 17)] * len(test)  # the 40% cutoff
        q = model.predict_quantiles(x, [c[:16] for c in test], [[40]] * len(test), qs=(0.05, 0.95))
        return np.mean([lo <= c[-1] <= hi for (lo, hi), c in zip((row[0] for row in q), test, strict=True)])

    raw, fixed = coverage(pfn), coverage(cal)
    assert raw < 0.5 and fixed > raw + 0.3  # the model alone misses the late gain; recalibrated it mostly does not
    p_raw = pfn.prob_improvement([np.arange(1, 17)], [test[0][:16]], x_final=40, threshold=test[0][-1] - 0.02)
    p_cal = cal.prob_improvement([np.arange(1, 17)], [test[0][:16]], x_final=40, threshold=test[0][-1] - 0.02)
    assert p_cal[0] > p_raw[0]  # and it stops such a run less readily


def test_the_rule_learns_only_from_curves_that_reached_the_final_epoch():
    rule = StoppingRule(model=LCPFN.untrained(seed=0))
    rule.observe_final([(1.0, 0.1), (2.0, 0.2), (3.0, 0.3), (4.0, 0.35)], x_final=10, maximize=True)  # stopped early
    assert rule.model.calibration.n_curves == 0
    rule.observe_final([(float(e), 0.1 * e**0.5) for e in range(1, 11)], x_final=10, maximize=True)
    assert rule.model.calibration.n_curves == 1
    plain = StoppingRule(model=LCPFN.untrained(seed=0), calibrate=False)
    plain.observe_final([(float(e), 0.1) for e in range(1, 11)], x_final=10, maximize=True)
    assert isinstance(plain.model, LCPFN)  # off: the model itself, nothing learned
