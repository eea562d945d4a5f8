"""The searcher interface: "which config next".

A searcher proposes configs and learns from :class:`~hpo.trial.Observation` objects. It
knows nothing of budgets, executors or storage; a scheduler owns it and asks it for
configs. Every job that ends (COMPLETED, PAUSED at a rung, PRUNED or FAILED) reaches it as
an observation with the fidelity reached, every metric and the cost, under every
scheduler; on resume the stored observations are replayed through :meth:`replay`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hpo.search_spaces import SearchSpace
from hpo.trial import Observation, as_objectives

__all__ = ["BaseSearcher"]


class BaseSearcher(ABC):
    """Proposes configurations.

    Args:
        space: The search space.
        seed: Seed of the searcher's own ``numpy.random.Generator``.

    Capabilities are class attributes, so schedulers never test a searcher's type:

    Attributes:
        uses_history: Whether :meth:`observe` changes future suggestions (model-based);
            multi-fidelity schedulers then draw a random fraction of configs themselves.
        supports_pending: Whether :meth:`suggest` takes running trials into account.
        max_objectives: How many objectives it can optimize at once (1, or more for
            searchers that model a Pareto front). A study with more refuses the searcher.
    """

    uses_history: ClassVar[bool] = False
    supports_pending: ClassVar[bool] = False
    max_objectives: ClassVar[int] = 1

    def __init__(self, space: SearchSpace, seed: int | None = None) -> None:
        import numpy as np

        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.n_observed = 0
        self.metrics: tuple[str, ...] = ("loss",)
        self.modes: tuple[str, ...] = ("min",)

    @property
    def metric(self) -> str:
        """The first (or only) objective."""
        return self.metrics[0]

    @property
    def mode(self) -> str:
        return self.modes[0]

    @property
    def sign(self) -> float:
        """+1 when the first metric is maximized, -1 when minimized: ``sign * value`` is maximized."""
        return 1.0 if self.mode == "max" else -1.0

    @property
    def signs(self) -> tuple[float, ...]:
        """:attr:`sign` of every objective."""
        return tuple(1.0 if m == "max" else -1.0 for m in self.modes)

    def set_objective(self, metric: str | Sequence[str], mode: str | Sequence[str]) -> None:
        """Told by the study which metric(s) it optimizes and in which direction(s).

        Raises:
            HPOError: when the study has more objectives than :attr:`max_objectives`.
        """
        from hpo.errors import HPOError

        metrics, modes = as_objectives(metric, mode)
        if len(metrics) > self.max_objectives:
            raise HPOError(
                f"{type(self).__name__} optimizes at most {self.max_objectives} objective(s), "
                f"the study has {len(metrics)} ({', '.join(metrics)}); use searcher='bo', 'random' or 'sobol'"
            )
        self.metrics, self.modes = metrics, modes

    @abstractmethod
    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """Propose ``n`` configs.

        Args:
            n: How many configs to return (``n >= 1``).
            pending: Configs of trials running now, so a batch-aware searcher can avoid them.

        Returns:
            ``n`` configs, each valid in :attr:`space`.
        """

    def observe(self, observations: Sequence[Observation]) -> None:
        """Learn from jobs that ended: COMPLETED, PAUSED at a rung, PRUNED or FAILED.

        Called once per ended job while a study runs. The default keeps a count only.
        """
        self.n_observed += len(observations)

    def set_cost_budget(self, total: float | None) -> None:
        """Told the study's total cost budget (``optimize(max_cost=...)``); cost-aware searchers use it."""

    def replay(self, observations: Sequence[Observation]) -> None:
        """Rebuild from a stored history when a study is resumed.

        The default observes them all; searchers with a deterministic sequence also move
        past the configs the earlier run already handed out (one per distinct trial).
        """
        self.observe(observations)

    @staticmethod
    def n_trials_in(observations: Sequence[Observation]) -> int:
        """Number of distinct trials in ``observations``."""
        return len({o.trial_id for o in observations})
