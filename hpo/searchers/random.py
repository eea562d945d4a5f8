"""Uniform random search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from hpo.searchers.base import BaseSearcher
from hpo.trial import Trial

__all__ = ["RandomSearcher"]


class RandomSearcher(BaseSearcher):
    """Independent uniform samples (log-uniform for ``log=True`` parameters).

    Reference: Bergstra & Bengio, "Random Search for Hyper-Parameter Optimization", JMLR 2012.

    On resume the generator is re-seeded from ``(seed, number of observed trials)`` so a
    resumed study does not replay the configs it already tried.
    """

    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        return self.space.sample(self.rng, n)

    def observe(self, trials: Sequence[Trial]) -> None:
        import numpy as np

        if len(trials) > 1:  # a bulk history replay (resume): move to a fresh stream
            self.rng = np.random.default_rng([self.seed or 0, self.n_observed + len(trials)])
        super().observe(trials)
