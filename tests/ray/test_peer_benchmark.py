"""The Ray Tune peer of the multi-fidelity benchmark runs Ray Tune the way its docs ask.

Ray's ``HyperBandScheduler`` pauses trials at its milestones; a function trainable that
does not checkpoint retrains a resumed trial from epoch 1, and those epochs count against
Ray's budget. The benchmark's trainable checkpoints, so Ray is not handicapped.
"""

from __future__ import annotations

import pytest

pytest.importorskip("ray.tune")

from benchmarks.multifidelity import _ray  # noqa: E402


@pytest.mark.timeout(900)  # two short Ray Tune runs; each starts about 40 trial actors
def test_ray_hyperband_resumes_paused_trials_from_their_checkpoint(ray_local):
    without = _ray("synthetic", "ray-hyperband", seed=0, epochs=150, checkpoint=False)
    assert len(without["values"]) == 150
    assert without["restarts"] > 0  # the handicap the checkpoint removes is real

    run = _ray("synthetic", "ray-hyperband", seed=0, epochs=150)
    assert len(run["values"]) == 150
    assert run["restarts"] == 0
    assert run["n_trials"] > 9  # more trials than the largest bracket's survivors: it did halve
    assert all(0.0 <= v <= 100.0 for v in run["values"])


def test_ray_asha_stops_trials_and_never_restarts_them(ray_local):
    run = _ray("synthetic", "ray-asha", seed=0, epochs=60)
    assert len(run["values"]) == 60 and run["restarts"] == 0
    assert run["n_trials"] > 60 / 9  # most trials were stopped before the full 9 epochs
