"""``to_distribution(s)``: our search space as Optuna distributions (the inverse of ``_to_param``)."""

from __future__ import annotations

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from hpo.integrations.optuna import _to_param, to_distribution, to_distributions
from hpo.search_spaces import Categorical, Choice, Fixed, Float, Int, SearchSpace


def test_every_parameter_type_maps_and_round_trips():
    space = SearchSpace(
        {
            "lr": Float(1e-4, 1e-1, log=True),
            "drop": Float(0.0, 0.5, step=0.1),
            "units": Int(16, 256, log=True),
            "layers": Int(1, 7, step=2),
            "opt": Categorical(["adam", "sgd"]),
            "seed": Fixed(3),
            "model": Choice({"svm": {"C": Float(1e-3, 1e3, log=True)}, "rf": {"depth": Int(1, 9)}}),
        }
    )
    dists = to_distributions(space)
    assert dists == {
        "lr": FloatDistribution(1e-4, 1e-1, log=True),
        "drop": FloatDistribution(0.0, 0.5, step=0.1),
        "units": IntDistribution(16, 256, log=True),
        "layers": IntDistribution(1, 7, step=2),
        "opt": CategoricalDistribution(["adam", "sgd"]),
        "model": CategoricalDistribution(["svm", "rf"]),
        "C": FloatDistribution(1e-3, 1e3, log=True),
        "depth": IntDistribution(1, 9),
    }
    assert to_distribution(Fixed(3)) is None
    for name in ("lr", "drop", "units", "layers", "opt"):
        assert _to_param(dists[name]) == space.params[name]
