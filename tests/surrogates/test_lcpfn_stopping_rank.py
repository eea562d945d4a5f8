"""StoppingRule's rank check: a curve is judged before ``min_steps`` points only where finished curves rank-agree."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.surrogates.lcpfn.stopping import StoppingRule


class Hopeless:
    """A stand-in predictor that gives every curve 1% chance: isolates when the rule asks."""

    def prob_improvement(self, x, y, x_final, threshold, maximize, y_range):
        return np.full(len(y), 0.01)


def finished(first: float, final: float, n: int = 10) -> list[tuple[float, float]]:
    """A curve from ``first`` at epoch 1 to ``final`` at epoch ``n`` (linear)."""
    return [(float(e), first + (final - first) * (e - 1) / (n - 1)) for e in range(1, n + 1)]


def rule_after(pairs: list[tuple[float, float]], **kwargs) -> StoppingRule:
    rule = StoppingRule(min_steps=3, model=Hopeless(), calibrate=False, **kwargs)
    for first, final in pairs:
        rule.observe_final(finished(first, final), 10.0, True)
    return rule


AGREE = [(0.1 * i, 0.5 + 0.05 * i) for i in range(1, 7)]  # epoch-1 order = final order (tau 1)
REVERSED = [(0.1 * i, 0.9 - 0.05 * i) for i in range(1, 7)]  # epoch-1 order reversed (tau -1)


def test_a_one_point_curve_is_judged_once_six_finished_curves_agree_at_that_epoch():
    assert rule_after(AGREE).should_stop([(1.0, 0.05)], 10.0, 0.8, True)
    assert rule_after(AGREE).trusted_early(1.0) and rule_after(AGREE).trusted_early(2.0)


def test_too_few_finished_curves_or_reversed_ranks_keep_min_steps():
    assert not rule_after(AGREE[:5]).should_stop([(1.0, 0.05)], 10.0, 0.8, True)  # 5 < 6 curves
    reversed_rule = rule_after(REVERSED)
    assert not reversed_rule.trusted_early(1.0)
    assert not reversed_rule.should_stop([(1.0, 0.05), (2.0, 0.06)], 10.0, 0.8, True)
    assert reversed_rule.should_stop([(1.0, 0.05), (2.0, 0.06), (3.0, 0.07)], 10.0, 0.8, True)  # min_steps reached


def test_rank_check_off_restores_the_fixed_floor():
    rule = rule_after(AGREE, rank_check=False)
    assert not rule.trusted_early(1.0) and not rule.should_stop([(1.0, 0.05)], 10.0, 0.8, True)


def test_weak_agreement_is_not_enough_and_a_new_finished_curve_updates_the_check():
    # tau over 6 curves = 1/15 (P(tau > 0) about 0.57 < 0.95): not trusted
    rule = rule_after([(0.1, 0.6), (0.2, 0.55), (0.3, 0.65), (0.4, 0.75), (0.5, 0.7), (0.6, 0.5)])
    assert not rule.trusted_early(1.0)
    for first, final in [(0.7, 0.9), (0.8, 0.95), (0.9, 0.97)]:  # three more that agree
        rule.observe_final(finished(first, final), 10.0, True)
    assert rule.trusted_early(1.0)


def test_curves_that_did_not_reach_the_final_epoch_are_not_counted():
    rule = rule_after(AGREE[:5])
    rule.observe_final(finished(0.9, 0.9, n=5), 10.0, True)  # stopped at epoch 5: not finished
    assert not rule.trusted_early(1.0)
    with pytest.raises(Exception, match="threshold"):
        StoppingRule(threshold=1.5)
