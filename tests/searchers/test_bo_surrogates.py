"""Every registered surrogate drives a parallel BO study (pending points -> qLogNEI)."""

import time

import numpy as np
import pytest

import hpo
from hpo._registry import SURROGATES
from hpo.search_spaces import Categorical, Float
from hpo.searchers import BOSearcher
from hpo.trial import TrialStatus

SPACE = {"x": Float(-5.0, 10.0), "y": Float(0.0, 15.0), "shift": Categorical(["none", "up", "down"])}


def branin_plus(config):
    x, y = config["x"], config["y"]
    value = (y - 5.1 / (4 * np.pi**2) * x**2 + 5 / np.pi * x - 6) ** 2 + 10 * (1 - 1 / (8 * np.pi)) * np.cos(x) + 10
    time.sleep(0.05)  # let the two workers overlap
    return {"loss": float(value + {"none": 0.0, "up": 20.0, "down": -0.3}[config["shift"]])}


class RecordingBO(BOSearcher):
    """Records what it suggested and which configs were running at the time."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = []

    def suggest(self, n, pending=()):
        out = super().suggest(n, pending=pending)
        self.calls.append(([dict(p) for p in pending], [dict(c) for c in out]))
        return out


@pytest.mark.parametrize("surrogate", SURROGATES.names())
def test_parallel_bo_runs_with_every_registered_surrogate(surrogate):
    searcher = RecordingBO(hpo.search_spaces.SearchSpace(SPACE), seed=0, surrogate=surrogate)
    study = hpo.Study.create(branin_plus, SPACE, metric="loss", mode="min", searcher=searcher, executor="inprocess", workers=2, seed=0)
    try:
        result = study.optimize(n_trials=12)
    finally:
        study.close()
    assert len(result.trials) == 12
    assert all(t.status is TrialStatus.COMPLETED for t in result.trials), [(t.status, t.reason) for t in result.trials]
    model_calls = searcher.calls[searcher.n_init :]
    assert model_calls, "no suggestion came from the model"
    with_pending = [(pending, out) for pending, out in model_calls if pending]
    assert with_pending, "no model suggestion was made while another trial ran"
    for pending, out in searcher.calls:
        for config in out:
            assert config not in pending
    assert result.incumbent is not None and np.isfinite(result.incumbent.value)
