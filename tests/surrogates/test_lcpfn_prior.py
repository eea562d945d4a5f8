"""The extended LC-PFN prior (``MixturePrior``): shapes, ranges, proportions and reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from hpo.surrogates.lcpfn.prior import (
    PRIORS,
    CurvePrior,
    MixturePrior,
    chance_levels,
    sample_curves,
)


def test_every_component_gives_finite_curves_in_the_unit_interval():
    prior = MixturePrior(n_epochs=60)
    for name, _ in prior.weights:
        curves = prior.component(name, 300, np.random.default_rng(0))
        assert curves.shape == (300, 60)
        assert np.isfinite(curves).all()
        if name != "paper":  # the paper's noise is not clipped; its clean curves are in [0, 1]
            assert curves.min() >= 0.0 and curves.max() <= 1.0


def test_components_have_the_shapes_they_are_named_after():
    prior, rng = MixturePrior(), np.random.default_rng(1)
    flat = prior.component("flat", 500, rng)
    assert np.median(np.abs(flat[:, -10:].mean(1) - flat[:, :10].mean(1))) < 0.02  # no progress
    diverge = prior.component("diverge", 500, rng)
    assert np.median(diverge.max(1) - diverge[:, -1]) > 0.1  # ends well below its best
    clean = CurvePrior().sample_clean(500, rng)
    stepped = MixturePrior._steps(clean, np.arange(1, 101, dtype=float)[None, :], rng)
    late = slice(24, None)  # steps fall at 25-90% of training
    assert np.median(np.diff(stepped, axis=1)[:, late].max(1)) > 5 * np.median(np.diff(clean, axis=1)[:, late].max(1))
    assert stepped.max() <= 1.0 + 1e-12
    paper = prior.component("paper", 500, rng)
    anneal = prior.component("anneal", 500, rng)
    assert np.median(anneal[:, -1] - anneal[:, 79]) > np.median(paper[:, -1] - paper[:, 79])  # a late rise
    warm = prior.component("warmup", 500, rng)
    assert np.median(warm[:, 4] - warm[:, 0]) < np.median(paper[:, 4] - paper[:, 0])  # a slow start


def test_recover_dips_only_before_its_calm_epoch_and_ends_near_its_clean_curve():
    rng = np.random.default_rng(3)
    clean = CurvePrior().sample_clean(500, rng)
    t = np.arange(1, 101, dtype=float)[None, :]
    y = MixturePrior._recover(clean, t, rng)
    assert y.shape == clean.shape and (y >= -1e-12).all() and (y <= 1.0 + 1e-12).all()
    below = clean - y  # positive where a dip holds the run below its clean curve
    assert (below[:, :24] > 0.05).any(axis=1).mean() > 0.5  # most runs dip early (calm epoch >= 25)
    assert (below[:, 90:] <= 1e-12).all()  # calm epochs <= 90: no dip after them, only jumps up
    assert (y[:, -1] >= clean[:, -1] - 1e-12).all()


def test_component_proportions_follow_the_weights():
    def flat_share(curves: np.ndarray) -> float:
        return float(np.mean(np.abs(curves[:, -5:].mean(1) - curves[:, :5].mean(1)) < 0.03))

    prior, rng = MixturePrior(n_epochs=20, weights=(("paper", 0.5), ("flat", 0.5))), np.random.default_rng(2)
    alone = {name: flat_share(prior.component(name, 4000, rng)) for name in ("paper", "flat")}
    assert alone["flat"] > alone["paper"] + 0.5
    assert flat_share(prior.sample(4000, rng)) == pytest.approx(np.mean(list(alone.values())), abs=0.04)


def test_sampling_is_reproducible_and_names_are_checked():
    a = sample_curves(50, np.random.default_rng(7), prior="mixture")
    b = sample_curves(50, np.random.default_rng(7), prior="mixture")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(sample_curves(5, np.random.default_rng(7)), CurvePrior().sample(5, np.random.default_rng(7)))
    assert set(PRIORS) == {"paper", "mixture"}
    with pytest.raises(ValueError, match="unknown LC-PFN prior 'bayes'"):
        sample_curves(5, np.random.default_rng(0), prior="bayes")
    with pytest.raises(ValueError, match="unknown prior component 'spiky'"):
        MixturePrior().component("spiky", 5, np.random.default_rng(0))


def test_chance_levels_are_class_count_floors_or_low_levels():
    levels = chance_levels(5000, np.random.default_rng(3)).ravel()
    assert levels.min() >= 0.0 and levels.max() <= 0.5
    inverse = 1.0 / levels[levels > 0]
    assert np.mean(np.isclose(inverse, np.round(inverse))) > 0.5  # most are 1/K
