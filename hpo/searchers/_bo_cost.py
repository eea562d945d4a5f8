"""Cost-aware BO (``acquisition="ei_per_cost"`` or ``"ei_cool"``): a log-cost model and the cost exponent.

Split out of :mod:`hpo.searchers.bo` by responsibility; documented on
:class:`hpo.searchers.bo.BOSearcher` (``acquisition``, ``cost_budget``).

* **EI per unit cost** (Snoek, Larochelle & Adams, "Practical Bayesian Optimization of
  Machine Learning Algorithms", NeurIPS 2012): a second GP models the **log** cost of a
  config; the score is ``log EI(x) - mu_logcost(x)``, i.e. EI divided by the predicted cost.
* **Cost cooling** (Lee, Eriksson, Perrone & Seeger, "Cost-aware Bayesian Optimization",
  2020, CArBO): ``EI(x) / c(x)^alpha`` with ``alpha = (tau - tau_k) / (tau - tau_init)``
  clipped to [0, 1]: ``tau`` the total cost budget, ``tau_k`` the cost spent so far,
  ``tau_init`` the cost of the initial design. Alpha falls from 1 (cheap first) to 0 (plain
  EI once the budget is spent). This budget-based schedule is the one DESIGN read from an
  implementation; BoTorch's tutorial by the paper's author cools per iteration instead. We
  use the budget schedule.

An observation's cost is :attr:`~hpo.trial.Observation.cost_used`: a ``cost`` the
objective reported, else the trial's measured seconds. Every ended job's cost is modelled
(failures cost too), at the fidelity the objective model fits.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from hpo.errors import HPOError
from hpo.search_spaces import SearchSpace
from hpo.trial import INTERRUPTED, Observation, TrialStatus

if TYPE_CHECKING:
    import numpy as np

__all__ = ["CostAware", "COST_ACQUISITIONS", "MIN_COST"]

#: Acquisitions that divide by a predicted cost.
COST_ACQUISITIONS = ("ei_per_cost", "ei_cool")
#: Costs are floored here before the log (an instant in-process evaluation costs ~0 s).
MIN_COST = 1e-6


class CostAware:
    """The log-cost training data and the cost exponent of cost-aware BO."""

    space: SearchSpace
    acquisition: str
    n_init: int
    seed: int | None
    cost_budget: float | None
    _fitted_fidelity: Any
    encode_for_model: Any  # AcrossFidelities': configs -> the model's encoding
    _own_budget: float | None
    _cost_surrogate: Any = None

    def _init_costs(self) -> None:
        # fidelity -> trial id -> (config, cost); trial id -> cost (every ended job, once per trial)
        self._costs: dict[float, dict[int, tuple[Mapping[str, Any], float]]] = {}
        self._spent: dict[int, float] = {}

    def _observe_costs(self, observations: Sequence[Observation]) -> None:
        for obs in observations:
            if obs.status is TrialStatus.FAILED and obs.reason == INTERRUPTED:
                continue
            cost = obs.cost_used
            self._costs.setdefault(obs.fidelity, {})[obs.trial_id] = (obs.config, cost)
            self._spent[obs.trial_id] = cost  # a trial's cost is cumulative: its latest job's total

    def set_cost_budget(self, total: float | None) -> None:
        """The study's total cost budget (``optimize(max_cost=...)``) reaches the searcher here.

        A ``cost_budget`` given to the constructor wins.
        """
        if self._own_budget is None:
            self.cost_budget = total

    def cost_alpha(self) -> float:
        """The cost exponent: 1 for ``"ei_per_cost"``, CArBO's cooled one for ``"ei_cool"``.

        Raises:
            HPOError: for ``"ei_cool"`` without a total cost budget.
        """
        if self.acquisition == "ei_per_cost":
            return 1.0
        if self.cost_budget is None:
            raise HPOError(
                "acquisition='ei_cool' cools the cost exponent over a total cost budget: pass "
                "optimize(max_cost=...) (or hpo run --max-cost), or BOSearcher(cost_budget=...)"
            )
        spent = sum(self._spent.values())
        initial = sum(self._spent[t] for t in sorted(self._spent)[: self.n_init])
        span = self.cost_budget - initial
        if span <= 0:
            return 0.0
        return min(1.0, max(0.0, (self.cost_budget - spent) / span))

    def cost_data(self) -> tuple[np.ndarray, np.ndarray] | None:
        """`m x d` encoded configs and `m` log costs at the fitted fidelity, or None (too few)."""
        import numpy as np

        fitted = self._fitted_fidelity()
        costs = self._costs.get(fitted, {}) if fitted is not None else {}
        if len(costs) < 2:
            return None
        configs = [c for c, _ in costs.values()]
        log_cost = np.log(np.maximum([c for _, c in costs.values()], MIN_COST))
        return self.encode_for_model(configs), log_cost

    def cost_model(self) -> Any:
        """The log-cost GP (one per searcher, warm-started between fits)."""
        if self._cost_surrogate is None:
            from hpo.surrogates.gp import GPSurrogate

            self._cost_surrogate = GPSurrogate(seed=self.seed or 0)
        return self._cost_surrogate


def check_budget(value: float | None) -> float | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0):
        raise HPOError(f"cost_budget must be a positive number, got {value!r}")
    return value
