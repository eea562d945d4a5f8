"""The output warp of BO targets: monotone, identity when not needed, log-like for heavy tails."""

import numpy as np
import pytest

from hpo.searchers._warp import warp_targets


def test_heavy_upper_tail_of_losses_is_compressed_and_order_kept():
    rng = np.random.default_rng(0)
    losses = np.exp(rng.normal(0, 3, size=60))  # Rosenbrock-like spread over decades
    y = -losses  # targets are maximized
    z, lam = warp_targets(y)
    assert lam < 0.5
    assert np.array_equal(np.argsort(z, kind="stable"), np.argsort(y, kind="stable"))
    assert np.argmax(z) == np.argmax(y)
    # the good half is no longer squeezed against the incumbent
    good = np.argsort(-y)[:30]
    assert np.std(z[good]) / np.std(z) > np.std(y[good]) / np.std(y)


def test_targets_without_a_bad_tail_are_left_alone():
    rng = np.random.default_rng(1)
    y = -np.abs(rng.normal(size=50)) + 3.0 * (rng.random(50) < 0.1)  # a few very good ones
    z, lam = warp_targets(y)
    assert lam == 1.0 and np.array_equal(z, y)


def test_modes_and_small_inputs():
    y = np.array([1.0, 2.0, 5.0, 100.0, 0.5])
    assert warp_targets(y, "none")[1] == 1.0
    z, lam = warp_targets(y, "log")
    assert lam == 0.0 and np.argmax(z) == np.argmax(y)
    assert np.array_equal(warp_targets(np.array([1.0, 1.0, 2.0]))[0], [1.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="unknown output warp"):
        warp_targets(y, "boxcox")
