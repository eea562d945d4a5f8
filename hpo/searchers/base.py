"""The searcher interface: "which config next".

A searcher proposes configs and learns from finished trials. It knows nothing of
budgets, executors or storage; a scheduler owns it and asks it for configs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from hpo.search_spaces import SearchSpace
from hpo.trial import Trial

__all__ = ["BaseSearcher"]


class BaseSearcher(ABC):
    """Proposes configurations.

    Args:
        space: The search space.
        seed: Seed of the searcher's own ``numpy.random.Generator``.

    Capabilities are class attributes, so schedulers never test a searcher's type:

    Attributes:
        uses_history: Whether :meth:`observe` changes future suggestions (model-based).
        supports_pending: Whether :meth:`suggest` takes running trials into account.
    """

    uses_history: ClassVar[bool] = False
    supports_pending: ClassVar[bool] = False

    def __init__(self, space: SearchSpace, seed: int | None = None) -> None:
        import numpy as np

        self.space = space
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.n_observed = 0
        self.metric = "loss"
        self.mode = "min"

    @property
    def sign(self) -> float:
        """+1 when the metric is maximized, -1 when minimized: ``sign * value`` is maximized."""
        return 1.0 if self.mode == "max" else -1.0

    def set_objective(self, metric: str, mode: str) -> None:
        """Told by the study which metric it optimizes and in which direction."""
        self.metric = metric
        self.mode = mode

    @abstractmethod
    def suggest(self, n: int, pending: Sequence[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
        """Propose ``n`` configs.

        Args:
            n: How many configs to return (``n >= 1``).
            pending: Configs of trials running now, so a batch-aware searcher can avoid them.

        Returns:
            ``n`` configs, each valid in :attr:`space`.
        """

    def observe(self, trials: Sequence[Trial]) -> None:
        """Learn from finished trials (COMPLETED, PRUNED or FAILED).

        Called once per finished trial while a study runs, and once with the whole
        stored history when a study is resumed, so the searcher is rebuilt from it.
        The default keeps a count only.
        """
        self.n_observed += len(trials)

    def reset(self) -> None:
        """Forget every observation (the design position and the RNG stay).

        Model-based multi-fidelity schedulers call it before they refit the searcher on
        the results of a larger budget.
        """
        self.n_observed = 0
