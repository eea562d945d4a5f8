"""Uniform random search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hpo.searchers.base import BaseSearcher
from hpo.trial import Observation

__all__ = ["RandomSearcher"]


class RandomSearcher(BaseSearcher):
    """Independent uniform samples (log-uniform for ``log=True`` parameters).

    Reference: Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization", JMLR 2012.

    It ignores the objectives, so it serves any number of them. On resume
    (:meth:`replay`) the generator is re-seeded from ``(seed, number of replayed trials)``
    so a resumed study does not repeat the configs it already tried.
    """

    max_objectives: ClassVar[int] = 1_000

    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        return self.space.sample(self.rng, n)

    def replay(self, observations: Sequence[Observation]) -> None:
        import numpy as np

        super().replay(observations)
        self.rng = np.random.default_rng([self.seed or 0, self.n_trials_in(observations)])
