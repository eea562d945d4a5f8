"""``SearcherContract``: behaviour every searcher must have."""

from __future__ import annotations

from typing import Any

import pytest

from hpo.search_spaces import Categorical, Choice, Fixed, Float, Int, SearchSpace
from hpo.searchers.base import BaseSearcher
from hpo.trial import Observation, TrialStatus

MIXED = SearchSpace(
    {
        "lr": Float(1e-5, 1e-1, log=True),
        "dropout": Float(0.0, 0.5, step=0.1),
        "layers": Int(1, 8),
        "units": Int(16, 512, log=True),
        "opt": Categorical(["adam", "sgd", "rmsprop"]),
        "seed": Fixed(0),
    }
)
CONDITIONAL = SearchSpace(
    {
        "model": Choice(
            {
                "svm": {"C": Float(1e-3, 1e3, log=True), "kernel": Categorical(["rbf", "linear"])},
                "rf": {"n_estimators": Int(10, 500), "max_depth": Int(2, 32)},
                "knn": {},
            }
        ),
        "scale": Categorical([True, False]),
    }
)


def ask_tell(searcher: BaseSearcher, objective: Any, n: int, metric: str = "loss", mode: str = "min") -> list[float]:
    """Run ``n`` sequential suggest/observe steps of ``objective(config) -> float``; the values, in order."""
    searcher.set_objective(metric, mode)
    values = []
    for i in range(n):
        (config,) = searcher.suggest(1)
        value = float(objective(config))
        values.append(value)
        searcher.observe([Observation(i + 1, config, TrialStatus.COMPLETED, 1.0, {metric: value}, 0.0, (value,))])
    return values


class SearcherContract:
    """Subclass and implement :meth:`make_searcher`."""

    def make_searcher(self, space: SearchSpace, seed: int | None) -> BaseSearcher:
        raise NotImplementedError

    @pytest.mark.parametrize("space", [MIXED, CONDITIONAL], ids=["mixed", "conditional"])
    def test_suggestions_belong_to_the_space(self, space: SearchSpace) -> None:
        searcher = self.make_searcher(space, 0)
        configs = searcher.suggest(16)
        assert len(configs) == 16
        for config in configs:
            space.validate(config)

    def test_same_seed_same_suggestions(self) -> None:
        a = self.make_searcher(MIXED, 42).suggest(5)
        b = self.make_searcher(MIXED, 42).suggest(5)
        assert a == b

    def test_different_seeds_differ(self) -> None:
        a = self.make_searcher(MIXED, 1).suggest(5)
        b = self.make_searcher(MIXED, 2).suggest(5)
        assert a != b

    def test_conditional_space_visits_every_option(self) -> None:
        configs = self.make_searcher(CONDITIONAL, 0).suggest(30)
        assert {c["model"] for c in configs} == {"svm", "rf", "knn"}

    def test_observes_every_outcome_and_goes_on(self) -> None:
        searcher = self.make_searcher(MIXED, 0)
        configs = searcher.suggest(8)
        statuses = [TrialStatus.COMPLETED, TrialStatus.FAILED, TrialStatus.PRUNED, TrialStatus.PAUSED] * 2
        for i, (c, s) in enumerate(zip(configs, statuses, strict=True)):
            fidelity = 1.0 if s is TrialStatus.COMPLETED else 0.5
            values = None if s is TrialStatus.FAILED else (float(i),)
            searcher.observe([Observation(i + 1, c, s, fidelity, {"loss": float(i), "mem": 1.0}, 0.1 * i, values)])
        more = searcher.suggest(3, pending=[configs[0]])
        assert len(more) == 3 and all(MIXED.contains(c) for c in more)

    def test_replayed_history_is_not_repeated(self) -> None:
        first = self.make_searcher(MIXED, 7)
        old = first.suggest(4)
        history = [Observation(i + 1, c, TrialStatus.COMPLETED, 1.0, {"loss": 1.0}, 0.0, (1.0,)) for i, c in enumerate(old)]
        again = self.make_searcher(MIXED, 7)
        again.replay(history)
        new = again.suggest(4)
        assert not any(c in old for c in new)
