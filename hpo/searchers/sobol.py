"""Scrambled Sobol quasi-random search."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hpo.search_spaces import SearchSpace
from hpo.searchers.base import BaseSearcher
from hpo.trial import Observation

__all__ = ["SobolSearcher"]


class SobolSearcher(BaseSearcher):
    """Scrambled Sobol points in the unit cube, decoded into configs.

    Low-discrepancy points cover the cube more evenly than random ones, which is why BO
    uses them as its initial design. Uses ``scipy.stats.qmc.Sobol`` with Owen scrambling
    (Owen 1998; Joe & Kuo 2008 direction numbers).

    The sequence is deterministic for a seed, so on resume (:meth:`replay`) the engine is
    fast-forwarded past every point already handed out (one per replayed trial). It ignores
    the objectives, so it serves any number of them.
    """

    max_objectives: ClassVar[int] = 1_000

    def __init__(self, space: SearchSpace, seed: int | None = None) -> None:
        super().__init__(space, seed)
        self._engine = self._new_engine()
        self._drawn = 0

    def _new_engine(self) -> Any:
        from scipy.stats import qmc

        return qmc.Sobol(d=max(self.space.d, 1), scramble=True, seed=self.rng)

    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        import warnings

        with warnings.catch_warnings():
            # Sobol's balance warning for non-powers of two is irrelevant for sequential use.
            warnings.filterwarnings("ignore", message=".*balance properties.*", category=UserWarning)
            points = self._engine.random(n)
        self._drawn += n
        if self.space.d == 0:
            points = points[:, :0]
        return self.space.decode(points)

    def skip_to(self, n_drawn: int) -> None:
        """Move past the first ``n_drawn`` points (those an earlier run handed out)."""
        if n_drawn > self._drawn:
            self._engine.fast_forward(n_drawn - self._drawn)
            self._drawn = n_drawn

    def replay(self, observations: Sequence[Observation]) -> None:
        super().replay(observations)
        self.skip_to(self.n_trials_in(observations))
